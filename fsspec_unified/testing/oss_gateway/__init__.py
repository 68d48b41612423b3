"""An Aliyun OSS protocol gateway in front of an S3 server, for testing OSS clients.

``OSSGateway(endpoint, access_key, secret_key).start()`` serves OSS on loopback: signatures
(V1/V4, headers and presigned URLs) are verified with oss2's own code, requests are re-signed
with SigV4 and forwarded, and responses are rewritten into the OSS dialect oss2 parses.
"""

from .server import OSSGateway

__all__ = ["OSSGateway"]

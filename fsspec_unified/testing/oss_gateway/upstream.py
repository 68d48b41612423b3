"""The S3 side: requests re-signed with botocore SigV4 and sent to SeaweedFS with ``requests``.

Bodies are streamed with an unsigned payload (``UNSIGNED-PAYLOAD``), so an upload is never
held in memory by the gateway.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO
from urllib.parse import quote

import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

UPSTREAM_REGION = "us-east-1"
_UNSIGNED_PAYLOAD_CONFIG = Config(s3={"payload_signing_enabled": False})


def _quote(value: str, safe: str = "") -> str:
    return quote(value, safe="-_.~" + safe)


class Upstream:
    """A pooled, SigV4-signing HTTP client for one S3 endpoint (path style)."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, *,
                 pool_size: int, timeout_s: float = 300.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._signer = S3SigV4Auth(Credentials(access_key, secret_key), "s3", UPSTREAM_REGION)
        self._session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=pool_size,
                                                max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._timeout_s = timeout_s

    def url(self, bucket: str | None, key: str = "", params: Mapping[str, str] | None = None,
            ) -> str:
        path = "/"
        if bucket:
            path += _quote(bucket) + "/" + _quote(key, safe="/")
        query = "&".join(
            _quote(name) + ("=" + _quote(value) if value != "" else "")
            for name, value in sorted((params or {}).items())
        )
        return self.endpoint + path + ("?" + query if query else "")

    def request(self, method: str, bucket: str | None, key: str = "", *,
                params: Mapping[str, str] | None = None,
                headers: Mapping[str, str] | None = None,
                body: bytes | IO[bytes] | None = None, stream: bool = False,
                ) -> requests.Response:
        """Sign and send; the caller closes the response when ``stream`` is true."""
        url = self.url(bucket, key, params)
        aws_request = AWSRequest(method=method, url=url, headers=dict(headers or {}))
        aws_request.context["client_config"] = _UNSIGNED_PAYLOAD_CONFIG
        self._signer.add_auth(aws_request)
        return self._session.request(
            method, url, headers=dict(aws_request.headers.items()), data=body,
            stream=stream, timeout=self._timeout_s, allow_redirects=False,
        )

    def close(self) -> None:
        self._session.close()

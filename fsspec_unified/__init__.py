"""fsspec-unified: one fsspec filesystem over Aliyun OSS, AWS S3 and MinIO.

The public API: :class:`OSSConfig` describes a store, :func:`create_client` gives the driver for
it, and :mod:`fsspec_unified.exceptions` holds every error raised.
"""

from . import exceptions
from .driver import BaseOSSClient, create_client
from .driver.models import OSSConfig, TransferProgress

__version__ = "0.1.0"

__all__ = [
    "BaseOSSClient",
    "OSSConfig",
    "TransferProgress",
    "__version__",
    "create_client",
    "exceptions",
]

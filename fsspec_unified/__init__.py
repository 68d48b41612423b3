"""fsspec-unified: one fsspec filesystem over Aliyun OSS, AWS S3 and MinIO.

The public API: :class:`UnifiedFileSystem` (registered with fsspec as ``unified://``),
:class:`TransferManager` for large, resumable, verified transfers, :class:`OSSConfig` and
:func:`create_client` for the driver layer underneath, :class:`Profile` and
:class:`Credentials` (for the ``credentials_provider`` option), the progress callbacks, and
:mod:`fsspec_unified.exceptions` with every error raised (``ConcurrentModificationError``, raised
when an object changes under a pinned read, is also importable from here).
"""

from . import exceptions
from .driver import BaseOSSClient, create_client
from .driver.callbacks import (
    ConsoleProgressCallback,
    FileProgressCallback,
    ProgressCallback,
)
from .driver.credentials import CommandCredentialsProvider, Credentials
from .driver.engine.config import TransferConfig, TransferResult
from .driver.engine.control import TransferControl, TransferHandle
from .driver.engine.retry import RetryPolicy
from .driver.models import OSSConfig, TransferProgress
from .driver.transfer_manager import TransferManager
from .exceptions import ConcurrentModificationError
from .filesystem import UnifiedFileSystem
from .profiles import Profile

__version__ = "0.1.0"

__all__ = [
    "BaseOSSClient",
    "CommandCredentialsProvider",
    "ConcurrentModificationError",
    "ConsoleProgressCallback",
    "Credentials",
    "FileProgressCallback",
    "OSSConfig",
    "Profile",
    "ProgressCallback",
    "RetryPolicy",
    "TransferConfig",
    "TransferControl",
    "TransferHandle",
    "TransferManager",
    "TransferProgress",
    "TransferResult",
    "UnifiedFileSystem",
    "__version__",
    "create_client",
    "exceptions",
]

"""Storage drivers: one module per backend behind :class:`~.base_oss.BaseOSSClient`.

:func:`create_client` picks the backend from ``OSSConfig.provider``. Backends are imported only
when asked for, so using one provider never imports the other providers' SDKs.
"""

from __future__ import annotations

from importlib import import_module

from .base_oss import BaseOSSClient
from .exceptions import ConfigurationError
from .models import OSSConfig

_DRIVERS = {
    "s3": ("fsspec_unified.driver.aws_s3", "AWSS3Client"),
    "minio": ("fsspec_unified.driver.minio_client", "MinioClient"),
    "oss": ("fsspec_unified.driver.oss_ali", "AliyunOSSClient"),
}


def driver_class(provider: str) -> type[BaseOSSClient]:
    """The driver class for a canonical provider name (``s3``, ``minio``, ``oss``)."""
    try:
        module_name, class_name = _DRIVERS[provider]
    except KeyError:
        raise ConfigurationError(
            f"provider: no driver for {provider!r} is available; "
            f"available: {', '.join(sorted(_DRIVERS))}"
        ) from None
    return getattr(import_module(module_name), class_name)


def create_client(config: OSSConfig) -> BaseOSSClient:
    """A client for ``config.provider``, built from ``config``."""
    return driver_class(config.provider)(config)


__all__ = ["BaseOSSClient", "OSSConfig", "create_client", "driver_class"]

"""The ``fsspec-unified`` command line: a thin layer over the filesystem and its transfer
manager (see :mod:`.app`)."""

from .app import main

__all__ = ["main"]

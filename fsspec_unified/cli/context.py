"""What every command needs: the chosen profile and a filesystem built from it.

The profile is ``--profile``, else ``UNIFIED_PROFILE``, else the profile named ``default``
when there is one; with none, the filesystem gets no connection options, so fsspec's own
configuration (``FSSPEC_UNIFIED_*`` variables, such as ``FSSPEC_UNIFIED_PROFILE``) and then
the provider's usual credential sources apply (boto3's chain for S3). Transfers are
resumable: their checkpoints live under the data directory, one folder per profile, where
``fsspec-unified transfers`` finds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..filesystem import UnifiedFileSystem
from ..profiles import data_dir, profile_names

DEFAULT_PROFILE = "default"


@dataclass
class CLIContext:
    profile: str | None = None
    debug: bool = False

    @property
    def profile_name(self) -> str:
        """The profile in use, ``default`` when none was chosen (it names the checkpoint
        folder even when no such profile exists)."""
        return self.profile or DEFAULT_PROFILE

    def storage_options(self) -> dict[str, Any]:
        if self.profile is not None or DEFAULT_PROFILE in profile_names():
            return {"profile": self.profile_name}
        return {}

    def checkpoint_dir(self) -> Path:
        return data_dir() / "transfers" / self.profile_name

    def filesystem(self, **overrides: Any) -> UnifiedFileSystem:
        """A fresh filesystem for this profile; ``overrides`` are storage options
        (``max_workers``, ``block_size``, ``rate_limit_bytes_per_s``, ...) that are not
        ``None``."""
        options = self.storage_options()
        options.update(resumable=True, checkpoint_dir=str(self.checkpoint_dir()))
        options.update({name: value for name, value in overrides.items() if value is not None})
        return UnifiedFileSystem(skip_instance_cache=True, **options)

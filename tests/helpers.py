"""Helpers shared by test modules."""

from __future__ import annotations

import dataclasses
import random


def pattern_bytes(size: int, seed: int = 0) -> bytes:
    """Deterministic pseudo-random bytes: every part differs, so a misplaced part shows."""
    return random.Random(seed).randbytes(size)


def force_multipart_copy(fs, monkeypatch, limit: int) -> None:
    """Make ``fs`` copy objects above ``limit`` bytes part by part (as it does above the
    provider's single-copy limit, 5 GiB on S3), by lowering that limit in its client's
    capabilities."""
    caps = dataclasses.replace(fs.client.capabilities, max_single_copy_bytes=limit)
    monkeypatch.setattr(fs.client, "capabilities", caps)

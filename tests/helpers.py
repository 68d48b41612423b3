"""Helpers shared by test modules."""

from __future__ import annotations

import random


def pattern_bytes(size: int, seed: int = 0) -> bytes:
    """Deterministic pseudo-random bytes: every part differs, so a misplaced part shows."""
    return random.Random(seed).randbytes(size)

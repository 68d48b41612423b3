"""What a command-line path names: ``unified://bucket/key`` is remote (``unified://`` alone,
the list of buckets), anything else is a local path."""

from __future__ import annotations

import os
from dataclasses import dataclass

SCHEME = "unified://"


@dataclass(frozen=True)
class Location:
    """``path`` is ``bucket/key`` (remote; ``""`` for the bucket list) or a local path,
    exactly as typed: a trailing ``/`` is kept, since ``cp`` reads meaning into it."""

    path: str
    remote: bool

    @property
    def url(self) -> str:
        return SCHEME + self.path if self.remote else self.path

    @property
    def bucket(self) -> str:
        return self.path.strip("/").split("/", 1)[0] if self.remote else ""

    @property
    def key(self) -> str:
        """The key (or prefix) inside the bucket, without a trailing ``/``; ``""`` for a
        bucket, the bucket list and local paths."""
        return self.path.strip("/").partition("/")[2].rstrip("/") if self.remote else ""

    @property
    def is_root(self) -> bool:
        """The list of buckets (``unified://``)."""
        return self.remote and not self.path.strip("/")

    @property
    def is_bucket(self) -> bool:
        """A bucket itself (``unified://bucket`` or ``unified://bucket/``), no key."""
        return self.remote and not self.is_root and not self.key

    @property
    def ends_with_separator(self) -> bool:
        """Typed with a trailing ``/`` (or the local separator): a directory by intent."""
        return self.path.endswith(("/", os.sep))

    def child(self, name: str) -> Location:
        """``name`` (relative, ``/``-separated) under this location, with the local
        separator for a local path."""
        separator = "/" if self.remote else os.sep
        return Location(self.path.rstrip("/" + os.sep) + separator
                        + name.replace("/", separator), self.remote)

    def contains(self, other: Location) -> bool:
        """Whether ``other`` is this location or lies under it: the same object key or
        prefix (remote), the same real path or one below it (local)."""
        if self.remote != other.remote:
            return False
        if self.remote:
            outer, inner = self.path.strip("/"), other.path.strip("/")
            return inner == outer or inner.startswith(outer + "/")
        outer, inner = os.path.realpath(self.path), os.path.realpath(other.path)
        return os.path.commonpath([outer, inner]) == outer


def parse_location(text: str) -> Location:
    if text.startswith(SCHEME):
        return Location(text[len(SCHEME):], remote=True)
    return Location(text, remote=False)

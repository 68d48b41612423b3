"""What a command-line path names: ``unified://bucket/key`` is remote (``unified://`` alone,
the list of buckets), anything else is a local path."""

from __future__ import annotations

from dataclasses import dataclass

SCHEME = "unified://"


@dataclass(frozen=True)
class Location:
    """``path`` is ``bucket/key`` (remote; ``""`` for the bucket list) or a local path."""

    path: str
    remote: bool

    @property
    def url(self) -> str:
        return SCHEME + self.path if self.remote else self.path

    @property
    def bucket(self) -> str:
        return self.path.split("/", 1)[0] if self.remote else ""

    @property
    def is_root(self) -> bool:
        """The list of buckets (``unified://``)."""
        return self.remote and not self.path.strip("/")


def parse_location(text: str) -> Location:
    if text.startswith(SCHEME):
        return Location(text[len(SCHEME):], remote=True)
    return Location(text, remote=False)

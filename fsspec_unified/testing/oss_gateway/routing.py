"""Path-style addressing: ``/<bucket>/<url-quoted key>``, as oss2 sends for IP endpoints."""

from __future__ import annotations

from urllib.parse import unquote


def parse_path(path: str) -> tuple[str | None, str]:
    """``(bucket, key)`` of a request path; ``(None, "")`` for the service (``/``).

    oss2 quotes the key with ``safe=''``, so ``/`` arrives as ``%2F``; presigned URLs may
    keep it literal (``slash_safe=True``). Both decode to the same key.
    """
    stripped = path.lstrip("/")
    if not stripped:
        return None, ""
    bucket, _, quoted_key = stripped.partition("/")
    return unquote(bucket), unquote(quoted_key)

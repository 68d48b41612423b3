"""``JSONLogFormatter``: the structured fields of fsspec-unified's log records, one JSON
object per line, for log pipelines that index fields rather than parse messages.

Operation and request records (see :mod:`.scope`) carry their fields in
``record.fsspec_unified``; this formatter writes them beside the time, level, logger and
message. Records of other libraries keep just those four.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone


class JSONLogFormatter(logging.Formatter):
    """``handler.setFormatter(JSONLogFormatter())`` turns each record into one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fsspec_unified", None) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)

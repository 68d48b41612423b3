"""Operation logs, metrics, error statistics and alerts (design document section 3.3).

- :class:`MetricsRegistry` (one per filesystem and per transfer manager): ``fs.metrics()``
  returns a :class:`MetricsSnapshot`; ``fs.error_report(window_s)`` an :class:`ErrorReport`.
- :class:`AlertPolicy`: calls ``on_alert`` with an :class:`Alert` when the error or retry rate
  over a window crosses a threshold.
- One structured log record per operation on ``fsspec_unified.operations`` and per request on
  ``fsspec_unified.requests`` (:mod:`.scope`); :class:`JSONLogFormatter` writes them as JSON.
- Exporters, optional: :mod:`.prometheus` (``pip install fsspec-unified[metrics]``) and
  :mod:`.opentelemetry` (when ``opentelemetry-api`` is installed).

Nothing here imports an SDK: the drivers report into it, the filesystem and the transfer
manager own the registries.
"""

from .alerts import Alert, AlertPolicy, ErrorReport
from .logs import JSONLogFormatter
from .metrics import KindStats, LatencySummary, MetricsRegistry, MetricsSnapshot

__all__ = [
    "Alert",
    "AlertPolicy",
    "ErrorReport",
    "JSONLogFormatter",
    "KindStats",
    "LatencySummary",
    "MetricsRegistry",
    "MetricsSnapshot",
]

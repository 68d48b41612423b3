"""Run every workload for every client against a local SeaweedFS, and write the results.

    python benchmarks/run.py [--quick] [--rounds N] [--clients A,B] [--out DIR]

One server serves the whole run, S3 directly and OSS through the OSS test gateway in front of
it. What the workloads read is seeded once into a shared bucket; each client writes to a
bucket of its own and runs in a process of its own (see ``benchmarks/worker.py`` for why).
Rounds interleave the clients, each round starting one client later than the previous one,
so that a slow phase of the server or the machine spreads over every client instead of
landing on one. Results go to ``DIR/results.json``, ``DIR/results.md`` and ``DIR/chart.png``;
the Markdown is also printed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

# Run as a script, only this folder is on sys.path; the repository root makes the
# ``benchmarks`` package importable (``python -m benchmarks.run`` works as well).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.clients import (
    CLIENT_SPECS,
    OSS_SECTION,
    S3_SECTION,
    SMALL_OBJECT_WORKERS,
    ClientSpec,
    Section,
    Target,
    describe_error,
)
from benchmarks.reference import Reference
from benchmarks.report import Figure, Results
from benchmarks.worker import WORKER_FLAG, Worker, WorkerError, serve
from benchmarks.workloads import (
    DEFAULT_PLAN,
    MIB,
    QUICK_PLAN,
    LocalFile,
    Plan,
    Sample,
    Workload,
    build_workloads,
    write_random_file,
)
from fsspec_unified.local_server import LocalS3Server

DEFAULT_OUT_DIR = Path(__file__).resolve().parent / "results"
SEED_BUCKET = "bench-seed"
_SERVER_STOP_TIMEOUT_S = 2.0
_STARTED_AT = time.monotonic()


@dataclass
class Contestant:
    """A benchmarked client's worker, with the reference client on the client's bucket."""

    spec: ClientSpec
    worker: Worker
    reference: Reference
    broken: str | None = None  # why its worker stopped answering, once it has

    def measure(self, workload: Workload, figure: Figure, round_number: int) -> Sample | None:
        """One sample, verified; ``None`` (and ``figure.not_measured`` set) if the client has
        no API for the operation. Whatever the client wrote is deleted afterwards."""
        if self.broken:
            return Sample(round_number, error=self.broken)
        try:
            result = self.worker.measure(workload.name)
        except WorkerError as error:
            self.broken = describe_error(error)
            return Sample(round_number, error=self.broken)
        if "not_supported" in result:
            figure.not_measured = result["not_supported"]
            return None
        try:
            if "error" in result:
                return Sample(round_number, error=result["error"])
            workload.verify(self.reference, result["outcome"])
        except Exception as error:  # a wrong result is a result to report, not a crash
            return Sample(round_number, error=describe_error(error))
        finally:
            workload.clean(self.reference)
        return Sample(
            round_number, seconds=result["seconds"], cpu_s=result["cpu_s"],
            peak_rss_mib=result["peak_rss_mib"], rss_rise_mib=result["rss_rise_mib"],
            value=workload.value(result["seconds"]),
        )


@dataclass
class Endpoints:
    """Where each section's clients connect; a section whose endpoint did not start has a
    reason instead."""

    credentials: tuple[str, str]
    urls: dict[Section, str] = field(default_factory=dict)
    missing: dict[Section, str] = field(default_factory=dict)

    def target(self, section: Section, bucket: str) -> Target:
        return Target(self.urls[section], *self.credentials, bucket, SEED_BUCKET, section.region)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true",
        help=f"a {_describe(QUICK_PLAN)}: about 2-3 minutes on 2 cores (default: a "
        f"{_describe(DEFAULT_PLAN)}: about 12-16 minutes on 2 cores)",
    )
    parser.add_argument("--rounds", type=int, help="rounds per figure, overriding the above")
    parser.add_argument(
        "--clients", type=lambda names: [name.strip() for name in names.split(",")],
        help="comma-separated client names to run (default: all of "
        f"{', '.join(spec.name for spec in CLIENT_SPECS)})",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT_DIR,
        help=f"where results.json, results.md and chart.png go (default {DEFAULT_OUT_DIR})",
    )
    parser.add_argument(WORKER_FLAG, action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be 1 or more")
    unknown = set(args.clients or ()) - {spec.name for spec in CLIENT_SPECS}
    if unknown:
        parser.error(f"unknown clients: {', '.join(sorted(unknown))}")
    return args


def _describe(plan: Plan) -> str:
    return (
        f"{plan.large_file_bytes // MIB} MiB file, {plan.range_count} ranges, "
        f"{plan.small_object_count} small objects, {plan.listing_object_count} keys to list, "
        f"{plan.tree_file_count} files in the tree, {plan.rounds} rounds"
    )


def progress(message: str) -> None:
    """Progress goes to stderr, so stdout carries only the Markdown."""
    print(f"{time.monotonic() - _STARTED_AT:6.1f} s  {message}", file=sys.stderr, flush=True)


def start_endpoints(server: LocalS3Server, stack: contextlib.ExitStack) -> Endpoints:
    """The S3 server's endpoint and the OSS gateway's, started in front of it.

    The gateway is imported here rather than at the top: the workers import this module, and
    should not carry the gateway's imports in their memory.
    """
    endpoints = Endpoints((server.access_key, server.secret_key))
    endpoints.urls[S3_SECTION] = server.endpoint_url
    try:
        from fsspec_unified.testing.oss_gateway import OSSGateway

        gateway = stack.enter_context(OSSGateway(
            server.endpoint_url, server.access_key, server.secret_key, region=OSS_SECTION.region
        ))
    except Exception as error:  # the OSS clients are skipped, the others still run
        endpoints.missing[OSS_SECTION] = f"the OSS gateway did not start: {describe_error(error)}"
    else:
        endpoints.urls[OSS_SECTION] = gateway.endpoint_url
        progress(f"OSS gateway listening on {gateway.endpoint_url}")
    return endpoints


def seed(endpoints: Endpoints, workloads: list[Workload], stack: contextlib.ExitStack) -> None:
    seeder = stack.enter_context(Reference(endpoints.target(S3_SECTION, SEED_BUCKET),
                                           SEED_BUCKET))
    seeder.create_bucket()
    progress(f"seeding {SEED_BUCKET}")
    for workload in workloads:
        workload.seed(seeder)


def start_contestants(
    specs: list[ClientSpec], endpoints: Endpoints, plan: Plan, scratch_dir: Path,
    source: LocalFile, stack: contextlib.ExitStack,
) -> tuple[list[Contestant], dict[str, str]]:
    """A worker and a bucket for every client that can run; for the others, the reason.

    The workers start together (their imports overlap) and are then awaited in order.
    """
    skipped: dict[str, str] = {}
    starting: list[Contestant] = []
    for spec in specs:
        if spec.section in endpoints.missing:
            skipped[spec.name] = endpoints.missing[spec.section]
            continue
        reference = stack.enter_context(
            Reference(endpoints.target(S3_SECTION, SEED_BUCKET), spec.bucket)
        )
        reference.create_bucket()
        worker = stack.enter_context(Worker(
            spec.name, endpoints.target(spec.section, spec.bucket), plan, scratch_dir, source
        ))
        starting.append(Contestant(spec, worker, reference))
    contestants = []
    for contestant in starting:
        reason = contestant.worker.ready()
        if reason is None:
            progress(f"{contestant.spec.name} ready")
            contestants.append(contestant)
        else:
            progress(f"skipping {contestant.spec.name}: {reason}")
            skipped[contestant.spec.name] = reason
    return contestants, skipped


def run_rounds(
    contestants: list[Contestant], workloads: list[Workload], rounds: int
) -> list[Figure]:
    """Measure each workload for each client, ``rounds`` times, interleaving the clients."""
    figures = {
        (workload.name, contestant.spec.name): Figure.empty(
            workload, contestant.spec.name, contestant.spec.ours, contestant.spec.section
        )
        for contestant in contestants
        for workload in workloads
        if contestant.spec.runs(workload.name)
    }
    for round_number in range(1, rounds + 1):
        shift = (round_number - 1) % len(contestants)
        order = contestants[shift:] + contestants[:shift]
        for workload in workloads:
            for contestant in order:
                figure = figures.get((workload.name, contestant.spec.name))
                if figure is None or figure.not_measured:
                    continue
                sample = contestant.measure(workload, figure, round_number)
                if sample is None:
                    outcome = f"not measured: {figure.not_measured}"
                else:
                    figure.samples.append(sample)
                    outcome = (f"FAILED {sample.error}" if sample.error
                               else f"{sample.value:,.1f} {workload.unit}")
                progress(
                    f"round {round_number}/{rounds}  {workload.name:<14} "
                    f"{contestant.spec.name:<20} {outcome}"
                )
    return [figure for figure in figures.values() if figure.samples or figure.not_measured]


def run(plan: Plan, specs: list[ClientSpec]) -> Results:
    """One complete run: server up, data seeded, rounds measured, everything stopped."""
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fsspec-unified-bench-") as scratch:
        scratch_dir = Path(scratch)
        progress(f"writing the {plan.large_file_bytes // MIB} MiB source file and the tree")
        source = write_random_file(scratch_dir / "large.bin", plan.large_file_bytes)
        workloads = build_workloads(plan, scratch_dir, source)
        for workload in workloads:
            workload.write_local()
        server = LocalS3Server(scratch_dir / "server").start()
        try:
            progress(f"SeaweedFS listening on {server.endpoint_url}")
            with contextlib.ExitStack() as stack:
                endpoints = start_endpoints(server, stack)
                seed(endpoints, workloads, stack)
                contestants, skipped = start_contestants(
                    specs, endpoints, plan, scratch_dir, source, stack
                )
                figures = run_rounds(contestants, workloads, plan.rounds) if contestants else []
                progress("stopping the workers")
        finally:
            # Its data is thrown away with the scratch directory, so a graceful stop (about
            # 25 s) buys nothing.
            server.stop(timeout_s=_SERVER_STOP_TIMEOUT_S)
    return Results(
        plan=plan,
        small_object_workers=SMALL_OBJECT_WORKERS,
        figures=figures,
        skipped=skipped,
        wall_time_s=time.perf_counter() - started,
        load_average_1m={"before": load_before, "after": os.getloadavg()[0]},
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return serve()
    plan = QUICK_PLAN if args.quick else DEFAULT_PLAN
    if args.rounds is not None:
        plan = replace(plan, rounds=args.rounds)
    specs = [spec for spec in CLIENT_SPECS if args.clients is None or spec.name in args.clients]
    results = run(plan, specs)
    print(results.write(args.out))
    from benchmarks.chart import write_chart

    progress(write_chart(results, args.out / "chart.png"))
    progress(f"wrote results.json and results.md in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

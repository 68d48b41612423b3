"""Run every workload for every client against a local SeaweedFS, and write the results.

    python benchmarks/run.py [--quick] [--rounds N] [--out DIR]

One server serves the whole run; each client gets a bucket of its own, seeded before the first
round. Rounds interleave the clients, each round starting one client later than the previous
one, so that a slow phase of the server or the machine spreads over every client instead of
landing on one. Results go to ``DIR/results.json`` and ``DIR/results.md``; the Markdown table
is also printed.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

# Run as a script, only this folder is on sys.path; the repository root makes the
# ``benchmarks`` package importable (``python -m benchmarks.run`` works as well).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.clients import (
    CLIENT_SPECS,
    SMALL_OBJECT_WORKERS,
    ClientSpec,
    StorageClient,
    Target,
    build_client,
    describe_error,
)
from benchmarks.reference import Reference
from benchmarks.report import Figure, Results
from benchmarks.workloads import DEFAULT_PLAN, MIB, QUICK_PLAN, Plan, Workload, build_workloads
from fsspec_unified.local_server import LocalS3Server

DEFAULT_OUT_DIR = Path(__file__).resolve().parent / "results"
_WARM_UP_PREFIX = "warm-up/"
_STARTED_AT = time.monotonic()


@dataclass
class Contestant:
    """A benchmarked client with the reference client on the same bucket."""

    spec: ClientSpec
    client: StorageClient
    reference: Reference


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true",
        help=f"a {QUICK_PLAN.large_file_bytes // MIB} MiB file, "
        f"{QUICK_PLAN.small_object_count} small objects, {QUICK_PLAN.listing_object_count} "
        f"to list, {QUICK_PLAN.rounds} rounds (default: {DEFAULT_PLAN.large_file_bytes // MIB} "
        f"MiB, {DEFAULT_PLAN.small_object_count}, {DEFAULT_PLAN.listing_object_count}, "
        f"{DEFAULT_PLAN.rounds})",
    )
    parser.add_argument("--rounds", type=int, help="rounds per figure, overriding the above")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT_DIR,
        help=f"where results.json and results.md go (default {DEFAULT_OUT_DIR})",
    )
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be 1 or more")
    return args


def progress(message: str) -> None:
    """Progress goes to stderr, so stdout carries only the table."""
    print(f"{time.monotonic() - _STARTED_AT:6.1f} s  {message}", file=sys.stderr, flush=True)


def ready_client(
    spec: ClientSpec, target: Target, open_clients: contextlib.ExitStack
) -> StorageClient | str:
    """The client, built and warmed up, or the reason it cannot be benchmarked.

    The warm-up (an empty listing) makes the client create its SDK objects and first
    connection before anything is timed; a client that cannot even do that is left out rather
    than failing the whole run. The client is closed when ``open_clients`` closes.
    """
    client = build_client(spec, target)
    if isinstance(client, str):
        return client
    open_clients.enter_context(client)
    try:
        client.list_prefix(_WARM_UP_PREFIX)
    except Exception as error:  # one broken client must not stop the others
        return f"warm-up failed: {describe_error(error)}"
    return client


def prepare_contestants(
    server: LocalS3Server, workloads: list[Workload], open_clients: contextlib.ExitStack
) -> tuple[list[Contestant], dict[str, str]]:
    """Create each client's bucket, set up every available client, and seed its bucket.

    Returns the contestants and, for each client left out, the reason.
    """
    contestants: list[Contestant] = []
    skipped: dict[str, str] = {}
    for spec in CLIENT_SPECS:
        target = Target(server.endpoint_url, server.access_key, server.secret_key, spec.bucket)
        reference = Reference(target)
        open_clients.enter_context(reference)
        reference.create_bucket()  # first: the client's warm-up lists this bucket
        client = ready_client(spec, target, open_clients)
        if isinstance(client, str):
            progress(f"skipping {spec.name}: {client}")
            skipped[spec.name] = client
            continue
        progress(f"seeding {spec.bucket}")
        for workload in workloads:
            workload.seed(reference)
        contestants.append(Contestant(spec, client, reference))
    return contestants, skipped


def run_rounds(
    contestants: list[Contestant], workloads: list[Workload], rounds: int
) -> list[Figure]:
    """Measure each workload for each client, ``rounds`` times, interleaving the clients."""
    figures = {
        (workload.name, contestant.spec.name): Figure.empty(
            workload, contestant.spec.name, contestant.spec.ours
        )
        for workload in workloads
        for contestant in contestants
    }
    for round_number in range(1, rounds + 1):
        shift = (round_number - 1) % len(contestants)
        order = contestants[shift:] + contestants[:shift]
        for workload in workloads:
            for contestant in order:
                sample = workload.measure(contestant.client, contestant.reference, round_number)
                figures[workload.name, contestant.spec.name].samples.append(sample)
                if sample.error:
                    outcome = f"FAILED {sample.error}"
                else:
                    outcome = f"{sample.value:,.1f} {workload.unit}"
                progress(
                    f"round {round_number}/{rounds}  {workload.name:<15} "
                    f"{contestant.spec.name:<21} {outcome}"
                )
    return list(figures.values())


def run(plan: Plan) -> Results:
    """One complete run: server up, bucket seeded, rounds measured, server down."""
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fsspec-unified-bench-") as scratch:
        scratch_dir = Path(scratch)
        progress(f"writing the {plan.large_file_bytes // MIB} MiB source file")
        workloads = build_workloads(plan, scratch_dir)
        with LocalS3Server(scratch_dir / "server") as server:
            progress(f"SeaweedFS listening on {server.endpoint_url}")
            with contextlib.ExitStack() as open_clients:
                contestants, skipped = prepare_contestants(server, workloads, open_clients)
                # Every client lives in this one process, and their SDKs' loaded models are
                # hundreds of thousands of objects: a full collection then takes ~200 ms and
                # lands on whichever client happens to trigger it. Frozen objects are never
                # scanned again, so each client pays only for the garbage it makes itself.
                gc.collect()
                gc.freeze()
                figures = run_rounds(contestants, workloads, plan.rounds)
            progress("stopping SeaweedFS (a graceful stop takes it about 25 s)")
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
    plan = QUICK_PLAN if args.quick else DEFAULT_PLAN
    if args.rounds is not None:
        plan = replace(plan, rounds=args.rounds)
    results = run(plan)
    print(results.write(args.out))
    progress(f"wrote {args.out / 'results.json'} and {args.out / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

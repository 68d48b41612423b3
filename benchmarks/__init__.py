"""Side-by-side benchmarks of fsspec-unified and the clients users would otherwise pick.

``python benchmarks/run.py`` starts its own SeaweedFS and the OSS test gateway in front of it,
runs every workload for every client in interleaved rounds, each client in a process of its
own, verifies each result, and writes ``results.json``, ``results.md`` and ``chart.png``.

The pieces, one concern each:

- ``clients.py``: one adapter per client behind :class:`~benchmarks.clients.StorageClient`.
  A new client is one adapter class plus one entry in ``CLIENT_SPECS``.
- ``workloads.py``: what is timed and how its result is verified. A new workload is one
  :class:`~benchmarks.workloads.Workload` subclass plus one line in ``build_workloads``.
- ``reference.py``: seeds what clients read and checks what they wrote, untimed.
- ``worker.py``: a client's own process, which times its operations and measures their CPU
  time and peak memory, and the runner's handle on it.
- ``report.py``: machine information, the summary of each figure, JSON and Markdown output.
- ``chart.py``: the PNG chart of the ratios.
- ``run.py``: the command line, the server and gateway, seeding, and the round loop.
"""

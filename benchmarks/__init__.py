"""Side-by-side benchmarks of fsspec-unified and the clients users would otherwise pick.

``python benchmarks/run.py`` starts its own SeaweedFS, runs every workload for every client in
interleaved rounds, verifies each result, and writes ``results.json`` and ``results.md``.

The pieces, one concern each:

- ``clients.py``: one adapter per client behind :class:`~benchmarks.clients.StorageClient`.
  A new client is one adapter class plus one entry in ``CLIENT_SPECS``.
- ``workloads.py``: what is timed and how its result is verified. A new workload is one
  :class:`~benchmarks.workloads.Workload` subclass plus one line in ``build_workloads``.
- ``reference.py``: seeds what clients read and checks what they wrote, untimed.
- ``report.py``: machine information, the summary of each figure, JSON and Markdown output.
- ``run.py``: the command line and the round loop.
"""

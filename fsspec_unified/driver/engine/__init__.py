"""The transfer engine: the one data path every byte of the library takes.

Reads, downloads, uploads, ``open`` writes and copies, whoever asks for them (the filesystem,
the :class:`~fsspec_unified.driver.transfer_manager.TransferManager`, the driver's own file
helpers), are built from the same pieces here, so retries, verification, the rate limit, the
budget of requests in flight and progress behave the same everywhere:

- :mod:`.scheduler` -- the budget (one per filesystem or manager), its threads, task groups
  and the rate limit; :mod:`.adaptive` -- how the budget adapts to throughput and throttling.
- :mod:`.operation` -- one operation on one object: every request goes through
  :meth:`~.operation.Operation.request` (retry policy + rate limit + a slot).
- :mod:`.reads`, :mod:`.downloads` -- ranged reads, resumed mid-body and pinned to one ETag;
  downloads to a file. :mod:`.uploads`, :mod:`.copies` -- single PUTs, multipart writes of
  files, streams and buffers, server-side copies. :mod:`.part_sizes` -- how big pieces are.
- :mod:`.config`, :mod:`.control`, :mod:`.retry`, :mod:`.bandwidth`, :mod:`.checkpoint` --
  settings, pause/cancel, backoff, the token bucket and resumable state.

The engine talks only to :class:`~fsspec_unified.driver.base_oss.BaseOSSClient`, whose
methods send one request per call. Retrying is the engine's (it can resend a part from its
source, or resume a body mid-way); the boto3 backend's hot path sends each request once, while
the SDKs' own retries (``OSSConfig.max_retries``) remain on their other calls.
"""

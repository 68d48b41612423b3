"""TransferManager: concurrent, resumable, verified, rate-limited transfers.

Not implemented yet. It will talk only to :class:`~.base_oss.BaseOSSClient` (multipart
primitives, ``list_parts`` for resume, ``capabilities`` for part sizing) and report through
:mod:`.callbacks`; drivers stay unaware of it.
"""

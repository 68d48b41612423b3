"""Aliyun OSS backend on the oss2 SDK: ``AliyunOSSClient(BaseOSSClient)``.

Not implemented yet; until it is, ``provider="oss"`` raises a ``ConfigurationError`` from
:func:`fsspec_unified.driver.create_client`. It will implement the same protected methods as
``aws_s3.py`` and pass the same conformance suite.
"""

"""fsspec's own shared test suite (copy, get, put, open, pipe) against this filesystem."""

from __future__ import annotations

import uuid

import pytest
from fsspec.tests import abstract

from tests.filesystem.conftest import storage_options


class UnifiedFixtures(abstract.AbstractFixtures):
    @pytest.fixture
    def fs(self, store, fs_bucket):
        import fsspec

        fs = fsspec.filesystem("unified", **storage_options(store))
        fs.invalidate_cache()
        return fs

    @pytest.fixture
    def fs_path(self, fs_bucket):
        return f"{fs_bucket}/abstract-{uuid.uuid4().hex[:12]}"

    @pytest.fixture
    def supports_empty_directories(self):
        return False


class TestUnifiedCopy(abstract.AbstractCopyTests, UnifiedFixtures):
    pass


class TestUnifiedGet(abstract.AbstractGetTests, UnifiedFixtures):
    pass


class TestUnifiedPut(abstract.AbstractPutTests, UnifiedFixtures):
    pass


class TestUnifiedOpen(abstract.AbstractOpenTests, UnifiedFixtures):
    pass


class TestUnifiedPipe(abstract.AbstractPipeTests, UnifiedFixtures):
    pass

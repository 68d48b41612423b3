"""pandas, pyarrow and dask reading and writing through ``unified://`` for real."""

from __future__ import annotations

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.fs
import pytest

from tests.filesystem.conftest import storage_options


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"id": range(1000), "name": [f"row-{i}" for i in range(1000)],
                         "value": [i * 0.5 for i in range(1000)]})


def test_pandas_csv_and_parquet_through_urls(store, root, frame):
    options = storage_options(store)
    frame.to_csv(f"unified://{root}/table.csv", index=False, storage_options=options)
    back = pd.read_csv(f"unified://{root}/table.csv", storage_options=options)
    pd.testing.assert_frame_equal(back, frame)

    frame.to_parquet(f"unified://{root}/table.parquet", storage_options=options)
    back = pd.read_parquet(f"unified://{root}/table.parquet", storage_options=options)
    pd.testing.assert_frame_equal(back, frame)


def test_pandas_through_a_filesystem_object(ufs, root, frame):
    with ufs.open(f"{root}/object.parquet", "wb") as handle:
        frame.to_parquet(handle)
    back = pd.read_parquet(f"{root}/object.parquet", filesystem=ufs)
    pd.testing.assert_frame_equal(back, frame)


def test_pyarrow_dataset_through_fsspec_handler(ufs, root, frame):
    for part in range(3):
        chunk = frame.iloc[part * 300:(part + 1) * 300]
        with ufs.open(f"{root}/dataset/part-{part}.parquet", "wb") as handle:
            chunk.to_parquet(handle, index=False)
    arrow_fs = pyarrow.fs.PyFileSystem(pyarrow.fs.FSSpecHandler(ufs))
    table = ds.dataset(f"{root}/dataset", format="parquet", filesystem=arrow_fs).to_table()
    assert table.num_rows == 900
    assert sorted(table.column("id").to_pylist()) == list(range(900))


def test_dask_read_parquet_on_a_distributed_cluster(store, root, frame):
    import dask.dataframe as dask_dataframe
    from distributed import Client, LocalCluster

    options = storage_options(store)
    for part in range(4):
        frame.iloc[part * 250:(part + 1) * 250].to_parquet(
            f"unified://{root}/dask/part-{part}.parquet", storage_options=options, index=False
        )
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        lazy = dask_dataframe.read_parquet(f"unified://{root}/dask/", storage_options=options)
        result = lazy.compute()
        workers_used = client.run(lambda: __import__("os").getpid())
    assert len(workers_used) == 2
    assert sorted(result["id"].tolist()) == list(range(1000))
    assert result["value"].sum() == frame["value"].sum()

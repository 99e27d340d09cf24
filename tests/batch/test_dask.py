"""`brainscan batch --local-cluster`: a real two-worker Dask LocalCluster gives the local pool's table."""

from __future__ import annotations

import pytest

from brainscan import batch_cli
from brainscan.batch.table import CSV, RUN_DEPENDENT, read_csv
from tests.batch.conftest import FAKE
from tests.dicom_factory import write_phantom_series

pytest.importorskip("distributed", reason="Dask distributed is not installed (pip install -e '.[batch]')")


def stable(rows):
    return [{k: v for k, v in row.items() if k not in RUN_DEPENDENT} for row in rows]


def test_two_worker_local_cluster_gives_the_pool_table(archive, tmp_path, load_log):
    root, written = archive
    bad = root / "unreadable" / "t1"
    write_phantom_series(bad, n=4, patient_id="P99")
    for file in bad.iterdir():
        file.write_bytes(file.read_bytes()[:-3000])  # pixel data truncated: a failed row in both tables
    pool, dask = tmp_path / "pool", tmp_path / "dask"
    common = ["--models-factory", FAKE, "--quiet", "--workers", "2"]
    assert batch_cli.main([str(root), "--out", str(pool), *common]) == 1
    load_log.write_text("")
    assert batch_cli.main([str(root), "--out", str(dask), "--local-cluster", *common]) == 1
    pool_rows, dask_rows = read_csv(pool / CSV), read_csv(dask / CSV)
    assert len(dask_rows) == len(written) + 1 and stable(dask_rows) == stable(pool_rows)
    assert [r["path"] for r in dask_rows if r["error_type"]] == [str(bad)]
    assert all(r["verdict"] for r in dask_rows if r["path"] != str(bad))
    workers = {r["worker"] for r in dask_rows}
    loads = load_log.read_text().split()
    assert len(loads) == 2 and len(set(loads)) == 2  # once per worker of the two
    assert {w.rsplit(":", 1)[1] for w in workers} <= set(loads)

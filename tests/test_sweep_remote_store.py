"""A sweep's results store at an fsspec URL (`sweep.store.RemoteStore`): runs made locally, then published with
summary.json last; the same rows as a local store, across worker processes; a rerun computes nothing; bad URLs
are refused before any work."""

from __future__ import annotations

import dataclasses
import json
import uuid

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")
fsspec = pytest.importorskip("fsspec")

import sim  # noqa: E402
import sweep  # noqa: E402
from sweep.store import RemoteStore, Store, is_url  # noqa: E402
from tests.test_sweep import BASE, GRID, _NoCluster, drop_timing, local, write_spec  # noqa: E402,F401

CFG = sim.RunConfig(**{**BASE, "model": "compressed", "eta": 2.0, "seeds": 2})


def _url():
    return f"memory://cdln-test-{uuid.uuid4().hex}"


def test_the_store_kind_follows_its_root(tmp_path):
    assert type(Store(tmp_path)) is Store and type(Store(f"file://{tmp_path}")) is Store
    assert Store(f"file://{tmp_path}").root == tmp_path  # file:// is the local folder itself
    assert isinstance(Store(_url()), RemoteStore) and is_url("s3://bucket/runs") and not is_url(str(tmp_path))
    with pytest.raises(ValueError, match=r"store 'nosuchprotocol://x' is not a location fsspec can open"):
        Store("nosuchprotocol://x")


def test_a_run_in_a_remote_store_is_the_local_run_and_is_found_again(tmp_path):
    url = _url()
    st = Store(url)
    r = st.run(CFG)
    local = sim.run(CFG, root=tmp_path)
    assert not r.cached and st.has_run(CFG.key())
    fs, base = fsspec.core.url_to_fs(url)
    names = sorted(p.rsplit("/", 1)[1] for p in fs.find(f"{base}/{CFG.key()}"))
    assert names == sorted(p.name for p in (tmp_path / CFG.key()).iterdir())  # every file published
    again = Store(url)  # a fresh handle (another process would have no local copy): fetched, not rerun
    again.staging = tmp_path / "elsewhere"
    got = again.run(CFG)
    assert got.cached
    assert got.metrics.drop(columns="time_s").equals(local.metrics.drop(columns="time_s"))
    assert np.array_equal(got.singular_values, local.singular_values)


def test_a_run_missing_its_summary_is_not_a_run(tmp_path):
    """summary.json is published last: a store holding the other files only (a publisher that died midway)
    does not count the run as made, and the next run publishes it whole."""
    url = _url()
    st = Store(url)
    st.run(CFG)
    fs, base = fsspec.core.url_to_fs(url)
    fs.rm(f"{base}/{CFG.key()}/summary.json")
    assert not st.has_run(CFG.key())
    st.staging = tmp_path / "fresh"
    assert not st.run(CFG).cached and st.has_run(CFG.key())


def test_divergence_records_and_batches_of_configs_live_in_the_remote_store():
    st = Store(_url())
    hot = dataclasses.replace(CFG, eta=1000.0, seeds=1)
    with pytest.raises(sim.DivergenceError) as exc:
        st.run(hot)
    rec = st.put_diverged(hot, exc.value)
    assert st.diverged(hot.key()) == json.loads(json.dumps(rec)) and st.diverged(CFG.key()) is None
    pts = [dataclasses.replace(CFG, seeds=1, eta=e) for e in (1.0, 2.0)]
    out = st.run_many(pts)
    assert all(isinstance(r, sim.Run) for r in out) and all(st.has_run(p.key()) for p in pts)


def test_a_sweep_into_a_url_store_gives_the_local_table_and_a_rerun_computes_nothing(local, tmp_path):  # noqa: F811
    """Across the 2 worker processes of a LocalCluster: `local://PATH` is fsspec's local filesystem reached
    through the URL path (memory:// is private to each process, so it cannot be shared by workers)."""
    url = f"local://{tmp_path / 'remote'}"
    spec = write_spec(tmp_path / "grid.json", url)
    assert sweep.run(spec, workers=2, out=tmp_path / "out").shape[0] == 8
    got = pd.read_parquet(tmp_path / "out" / "results.parquet")
    want = local["df"]
    cols = [c for c in want.columns if c not in ("train_time_s", "store")]
    assert drop_timing(got)[cols].sort_values("key").reset_index(drop=True).equals(
        drop_timing(want)[cols].sort_values("key").reset_index(drop=True))
    again = sweep.run(spec, client=_NoCluster())
    assert sorted(again.status) == sorted(want.status)


def test_a_spec_whose_store_url_cannot_be_opened_exits_2_before_any_work(tmp_path, capsys):
    from cdln.cli import main

    spec = write_spec(tmp_path / "grid.json", "nosuchprotocol://bucket/runs")
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(spec), "--quiet"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "spec store 'nosuchprotocol://bucket/runs' is not a location fsspec can open" in err
    assert len(err.strip().splitlines()) == 1

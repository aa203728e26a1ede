"""The results store a sweep shares with ``cdln run`` and the figure scripts: ``ROOT/<key>/``.

Finished runs are ``sim.run``'s folders (written atomically; the key is the machine-independent
config hash), so a run made by any worker, by an earlier sweep or by ``cdln run`` is found by any
other. ``sim`` keeps no record of a run that diverged (it raises before writing); the sweep keeps
one, ``ROOT/_diverged/<key>.json``, so a rerun does not repeat a deterministic divergence. A failed
run (any other error) is not recorded and is tried again by the next sweep.

Two finishers of one key (two sweeps sharing a store, or a task Dask rescheduled while its first
worker was still running) are not an error: ``sim.run`` renames its temporary folder onto
``ROOT/<key>``, and the second rename fails with ``OSError`` because the folder is there; the store
then reads the first finisher's run, which holds the same numbers.

The store may also be an fsspec URL (``memory://…``, ``s3://bucket/runs``, ``gcs://…``, any protocol fsspec
knows, with its filesystem package installed): :class:`RemoteStore`. Runs are made into a local staging
folder (``sim.run``'s atomic folder, under the system temp dir, one per store URL) and then published file by
file with ``summary.json`` last, so a reader that finds ``summary.json`` finds the whole run; two finishers
publish the same bytes. ``file://PATH`` is the local folder ``PATH`` (a shared file system needs nothing
else). ``Store(root)`` picks the kind from ``root``.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import tempfile
from pathlib import Path

import sim
from sim.io import atomic_write_text

__all__ = ["Store", "RemoteStore", "is_url"]


def is_url(root) -> bool:
    """Whether ``root`` names an fsspec location other than a local path (``PROTOCOL://…``, not ``file://``)."""
    return isinstance(root, str) and "://" in root and not root.startswith("file://")


def diverged_record(cfg: sim.RunConfig, exc: sim.DivergenceError) -> dict:
    """What the store keeps of a run that diverged (``_diverged/<key>.json``)."""
    return {"key": cfg.key(), "config": cfg.to_dict(), "status": "diverged", "message": str(exc),
            "step": exc.step, "loss": exc.loss, "seed": exc.seed, "eta_stable": exc.eta_stable}


class Store:
    def __new__(cls, root: str | os.PathLike, *args, **kwargs):  # subclasses may take more arguments
        if cls is Store and is_url(root):
            return super().__new__(RemoteStore)
        return super().__new__(cls)

    def __init__(self, root: str | os.PathLike):
        if isinstance(root, str) and root.startswith("file://"):
            root = root[len("file://"):]
        self.root = Path(root).absolute()

    def path(self, key: str) -> Path:
        return self.root / key

    def has_run(self, key: str) -> bool:
        return (self.root / key / "summary.json").is_file()

    def load(self, key: str) -> sim.Run:
        return sim.load_run(self.root / key)

    def run(self, cfg: sim.RunConfig) -> sim.Run:
        """``sim.run`` into the store; a concurrent finisher of the same key returns the run it wrote."""
        try:
            return sim.run(cfg, root=self.root)
        except OSError:
            key = cfg.key()
            if self.has_run(key) and json.loads((self.root / key / "config.json").read_text()).get("key") == key:
                r = self.load(key)
                r.cached = True
                return r
            raise

    def run_many(self, points) -> list:
        """:func:`sim.many.run_many` into the store: each point's run (or its ``DivergenceError``)."""
        from sim.many import run_many

        return run_many(points, root=self.root)

    # ---------------------------------------------------------------- divergence records
    def _diverged_path(self, key: str) -> Path:
        return self.root / "_diverged" / f"{key}.json"

    def diverged(self, key: str) -> dict | None:
        p = self._diverged_path(key)
        return json.loads(p.read_text()) if p.is_file() else None

    def put_diverged(self, cfg: sim.RunConfig, exc: sim.DivergenceError) -> dict:
        rec = diverged_record(cfg, exc)
        atomic_write_text(self._diverged_path(cfg.key()), json.dumps(rec, indent=1))
        return rec


class RemoteStore(Store):
    """The store at an fsspec URL: runs are made locally, then published with ``summary.json`` last."""

    def __init__(self, root: str):
        try:
            import fsspec
        except ImportError as exc:  # pragma: no cover - fsspec is a dependency of the package
            raise ValueError(f"store {root!r} is a URL, which needs the fsspec package: {exc}") from None
        self.root = root.rstrip("/")
        try:
            self.fs, self.base = fsspec.core.url_to_fs(self.root)
        except (ValueError, ImportError) as exc:  # unknown protocol, or its filesystem package is missing
            raise ValueError(f"store {root!r} is not a location fsspec can open: {exc}") from None
        self.base = self.base.rstrip("/")
        digest = hashlib.sha256(self.root.encode()).hexdigest()[:12]
        self.staging = Path(tempfile.gettempdir()) / f"cdln-store-{digest}"  #: local copies, made and fetched

    def path(self, key: str) -> str:
        return f"{self.base}/{key}"

    def has_run(self, key: str) -> bool:
        return self.fs.exists(f"{self.base}/{key}/summary.json")

    def load(self, key: str) -> sim.Run:
        return sim.load_run(self._fetch(key))

    def run(self, cfg: sim.RunConfig) -> sim.Run:
        key = cfg.key()
        if self.has_run(key):
            r = self.load(key)
            r.cached = True
            return r
        r = sim.run(cfg, root=self.staging)  # a local, atomic folder (or the local copy already made)
        self._publish(key)
        return r

    def run_many(self, points) -> list:
        from sim.many import run_many

        out = run_many(points, root=self.staging)
        for p, r in zip(points, out):
            if not isinstance(r, sim.DivergenceError):
                self._publish(p.key())
        return out

    def _publish(self, key: str) -> None:
        """Upload the staged run, ``summary.json`` last: its presence is the mark of a whole run."""
        local = self.staging / key
        files = sorted((p for p in local.rglob("*") if p.is_file()), key=lambda p: (p.name == "summary.json", str(p)))
        for f in files:
            dest = f"{self.base}/{key}/{f.relative_to(local).as_posix()}"
            self.fs.makedirs(dest.rsplit("/", 1)[0], exist_ok=True)
            self.fs.pipe_file(dest, f.read_bytes())

    def _fetch(self, key: str) -> Path:
        """The run's local copy (downloaded into a temporary folder, then renamed: never half there)."""
        local = self.staging / key
        if (local / "summary.json").is_file():
            return local
        self.staging.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".fetch-{key}-", dir=self.staging))
        src = self.fs._strip_protocol(f"{self.base}/{key}")
        for remote in self.fs.find(src):
            rel = posixpath.relpath(self.fs._strip_protocol(remote), src)
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(self.fs.cat_file(remote))
        try:
            os.replace(tmp, local)
        except OSError:  # another fetch of the same key finished first: same bytes
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
        return local

    def _diverged_path(self, key: str) -> str:
        return f"{self.base}/_diverged/{key}.json"

    def diverged(self, key: str) -> dict | None:
        p = self._diverged_path(key)
        return json.loads(self.fs.cat_file(p)) if self.fs.exists(p) else None

    def put_diverged(self, cfg: sim.RunConfig, exc: sim.DivergenceError) -> dict:
        rec = diverged_record(cfg, exc)
        self.fs.makedirs(f"{self.base}/_diverged", exist_ok=True)
        self.fs.pipe_file(self._diverged_path(cfg.key()), json.dumps(rec, indent=1).encode())  # one whole object
        return rec

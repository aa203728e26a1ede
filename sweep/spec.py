"""A sweep's spec: a ``[base]`` of ``cdln run`` keys, a ``[grid]`` of lists (their Cartesian product)
and optional ``[[zip]]`` groups of lists that vary together; read from TOML or JSON, checked whole
before any work.

.. code-block:: toml

    store = "runs"          # the results store (default: runs, the one `cdln run` uses)
    max_batch = 16          # at most this many seeds in one batched run
    threads = 1             # torch threads per run on a worker

    [base]
    problem = "factorization"
    d = 100
    steps = 20000

    [grid]
    alpha = [1.0, 2.0, 5.0]
    seed = [0, 1, 2, 3]     # or base.seeds = 4: seeds seed .. seed + seeds - 1

    [[zip]]                 # these lists vary together: (r, r̂) = (5, 10), (10, 20)
    rank = [5, 10]
    rank_hat = [10, 20]

A bad spec — an unknown key, an empty list, a key given twice, a value the run config refuses —
raises ``ValueError`` naming the key and the value, before any run starts.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import numbers
import os
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from sim import RunConfig

__all__ = ["Spec", "load_spec", "parse_spec", "to_toml", "config_of", "RUN_KEYS"]

RUN_KEYS = tuple(f.name for f in dataclasses.fields(RunConfig))
_TOP = ("store", "max_batch", "threads", "base", "grid", "zip")
_DEFAULT_MAX_BATCH = 16  # a batch of 16 d=100 runs keeps one core busy with bmm; more seeds split
                         # into several tasks so that a few configs still spread over the workers


@dataclass(frozen=True)
class Spec:
    """A checked sweep spec. ``points`` (one ``RunConfig`` per (config, seed), ``seeds = 1``) is
    computed by :func:`parse_spec` and is what the sweep runs; ``warnings`` are the configs' own
    (e.g. r̂ < r), collected once."""

    base: dict
    grid: dict
    zip: tuple = ()
    store: str = "runs"
    max_batch: int = _DEFAULT_MAX_BATCH
    threads: int = 1
    points: tuple = field(default=(), compare=False, repr=False)
    warnings: tuple = field(default=(), compare=False, repr=False)

    def as_dict(self) -> dict:
        out = {"store": self.store, "max_batch": self.max_batch, "threads": self.threads,
               "base": dict(self.base), "grid": dict(self.grid)}
        if self.zip:
            out["zip"] = [dict(z) for z in self.zip]
        return out


def load_spec(path: str | os.PathLike) -> Spec:
    """Read a TOML (``.toml``) or JSON (``.json``) spec; relative ``store`` and ``target_file`` paths are
    taken from the spec file's folder."""
    p = Path(path)
    if p.suffix not in (".toml", ".json"):
        raise ValueError(f"spec {str(p)!r} must be a .toml or .json file")
    try:
        text = p.read_text()
    except OSError as exc:
        raise ValueError(f"spec {str(p)!r} cannot be read: {exc.strerror or exc}") from None
    try:
        raw = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"spec {str(p)!r} is not valid {p.suffix[1:].upper()}: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"spec {str(p)!r} must hold a table/object, got {type(raw).__name__}")
    return parse_spec(raw, relative_to=p.resolve().parent)


def _check_value(where: str, key: str, v) -> None:
    ok = (isinstance(v, (str, bool)) or (isinstance(v, numbers.Real) and math.isfinite(v))
          or (isinstance(v, list) and all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in v)))
    if not ok:
        raise ValueError(f"spec {where} key {key!r} has a value of an unsupported kind: {v!r} "
                         "(a string, a finite number, a boolean or a list of numbers)")


def _run_key(where: str, key) -> None:
    if key not in RUN_KEYS:
        raise ValueError(f"spec {where} key {key!r} is not a cdln run key; valid keys: {', '.join(RUN_KEYS)}")
    if key == "seeds" and where != "[base]":
        raise ValueError(f"spec {where} key 'seeds' can only be set in [base] (vary 'seed' instead)")


def _values(where: str, key: str, v) -> list:
    if not isinstance(v, list):
        raise ValueError(f"spec {where} key {key!r} must be a list of values, got {v!r}")
    if not v:
        raise ValueError(f"spec {where} key {key!r} is an empty list (a sweep over nothing)")
    for x in v:
        _check_value(where, key, x)
    return list(v)


def parse_spec(raw: dict, *, relative_to: str | os.PathLike | None = None) -> Spec:
    """Check a spec given as a dict (the parsed TOML/JSON) and expand it into its run points."""
    if not isinstance(raw, dict):
        raise ValueError(f"spec must be a table/object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_TOP))
    if unknown:
        raise ValueError(f"spec has an unknown top-level key {unknown[0]!r}; valid keys: {', '.join(_TOP)}")
    base = raw.get("base", {})
    grid = raw.get("grid", {})
    zips = raw.get("zip", [])
    if not isinstance(base, dict):
        raise ValueError(f"spec [base] must be a table of cdln run keys, got {base!r}")
    if not isinstance(grid, dict):
        raise ValueError(f"spec [grid] must be a table of lists, got {grid!r}")
    if isinstance(zips, dict):
        zips = [zips]
    if not isinstance(zips, list) or not all(isinstance(z, dict) for z in zips):
        raise ValueError(f"spec [[zip]] must be an array of tables of lists, got {zips!r}")
    seen: dict[str, str] = {}

    def claim(where, key):
        _run_key(where, key)
        if key in seen:
            raise ValueError(f"spec key {key!r} is given in both {seen[key]} and {where}; give it once")
        seen[key] = where

    for k, v in base.items():
        claim("[base]", k)
        _check_value("[base]", k, v)
    grid = {k: (claim("[grid]", k), _values("[grid]", k, v))[1] for k, v in grid.items()}
    zip_groups = []
    for i, z in enumerate(zips):
        where = f"[[zip]] #{i + 1}"
        if not z:
            raise ValueError(f"spec {where} is empty")
        group = {k: (claim(where, k), _values(where, k, v))[1] for k, v in z.items()}
        lengths = {k: len(v) for k, v in group.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"spec {where} lists must have one length, got {lengths}")
        zip_groups.append(group)

    store = raw.get("store", "runs")
    if not isinstance(store, str) or not store:
        raise ValueError(f"spec store must be a folder path or an fsspec URL, got {store!r}")
    if "://" in store and not store.startswith("file://"):
        import fsspec

        try:
            fsspec.get_filesystem_class(store.split("://", 1)[0])
        except (ValueError, ImportError) as exc:  # unknown protocol, or its filesystem package is not installed
            raise ValueError(f"spec store {store!r} is not a location fsspec can open: {exc}") from None
    for name in ("max_batch", "threads"):
        v = raw.get(name, 1)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"spec {name} must be an integer >= 1, got {v!r}")
    base = dict(base)
    if relative_to is not None:
        rel = Path(relative_to)
        if not os.path.isabs(store) and "://" not in store:
            store = str(rel / store)
        for table in [base, grid, *zip_groups]:
            tf = table.get("target_file")
            if isinstance(tf, str) and tf and not os.path.isabs(tf):
                table["target_file"] = str(rel / tf)
            elif isinstance(tf, list):
                table["target_file"] = [str(rel / x) if isinstance(x, str) and not os.path.isabs(x) else x
                                        for x in tf]
    points, caught = _expand(base, grid, zip_groups)
    return Spec(base=base, grid=grid, zip=tuple(zip_groups), store=store,
                max_batch=raw.get("max_batch", _DEFAULT_MAX_BATCH), threads=raw.get("threads", 1),
                points=tuple(points), warnings=tuple(caught))


def _expand(base: dict, grid: dict, zips: list[dict]) -> tuple[list[RunConfig], list[str]]:
    """One ``RunConfig`` per (grid point, seed), each checked by the config itself."""
    axes = [[{k: v} for v in vals] for k, vals in grid.items()]
    axes += [[dict(zip(z, vals)) for vals in zip(*z.values())] for z in zips]
    points, caught, seen = [], [], set()
    for combo in itertools.product(*axes):
        kw = dict(base)
        for part in combo:
            kw.update(part)
        n = kw.pop("seeds", 1)
        first = kw.get("seed", 0)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"spec [base] key 'seeds' must be an integer >= 1, got {n!r}")
        if isinstance(first, bool) or not isinstance(first, int):
            raise ValueError(f"spec key 'seed' must be an integer >= 0, got {first!r}")
        for s in range(first, first + n):
            kw["seed"] = s
            try:
                with warnings.catch_warnings(record=True) as w:
                    warnings.simplefilter("always")
                    cfg = RunConfig.from_dict({**kw, "seeds": 1})
            except (ValueError, TypeError) as exc:
                point = ", ".join(f"{k}={v!r}" for part in combo for k, v in part.items())
                raise ValueError(f"spec point ({point or 'base'}): {exc}") from None
            caught += [str(x.message) for x in w if str(x.message) not in caught]
            key = cfg.key()
            if key in seen:  # e.g. a grid over a key this problem ignores
                continue
            seen.add(key)
            points.append(cfg)
    return points, caught


def config_of(row) -> RunConfig:
    """The single-run ``RunConfig`` of a results row (a mapping or a pandas row read back from parquet:
    lists arrive as arrays, missing values as ``None`` or NaN)."""
    kw = {}
    for f in dataclasses.fields(RunConfig):
        v = row[f.name]
        if hasattr(v, "tolist"):
            v = v.tolist()
        if isinstance(v, list):
            v = tuple(v)
        elif v is None or (isinstance(v, float) and math.isnan(v) and f.default is None):
            v = None
        kw[f.name] = v
    return RunConfig.from_dict(kw)


# ------------------------------------------------------------------ spec.toml as run
def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return str(v)


def to_toml(spec: Spec) -> str:
    """The spec as TOML (stdlib ``tomllib`` reads, not writes; this covers what a spec can hold)."""
    d = spec.as_dict()
    out = [f"{k} = {_toml_value(d[k])}" for k in ("store", "max_batch", "threads")]
    for table in ("base", "grid"):
        out += ["", f"[{table}]"] + [f"{k} = {_toml_value(v)}" for k, v in d[table].items()]
    for z in d.get("zip", []):
        out += ["", "[[zip]]"] + [f"{k} = {_toml_value(v)}" for k, v in z.items()]
    return "\n".join(out) + "\n"

"""`cdln table1 [--fast [BLOCKS]] [--seeds N] [--workers N | --scheduler ADDRESS]`: Table 1 — Original / DLN / C-DLN
penultimate layers in an MLP and a ViT.

Trains every variant over the seeds (cached under runs/nonlinear/), then writes ``docs/table1.md``
(``--fast``: every block at fast settings, what ``make run`` redraws) or ``docs/table1-paper.md`` (any
block at the paper's settings) with its JSON, atomically: test accuracy mean ± std, time to 99% of the
final test accuracy, MACs per example (counted from the layer shapes), peak training memory, parameters.
``--fast ViT`` runs only the ViT at fast settings (the paper's ViT on CIFAR-10 cannot be had here) and the
MLP at the paper's. With ``--workers`` or ``--scheduler`` the missing trainings are made first on a Dask
cluster (one per worker process, one torch thread each); without, one after another in this process.
CIFAR-10 cannot be installed offline here: without ``--data-dir`` the ViT rows use Fashion-MNIST,
and the table says so.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from sim.io import atomic_write_text

__all__ = ["table1_command", "settings", "fast_blocks", "configs", "load_block_data", "make_missing", "build_rows",
           "format_markdown", "BLOCKS"]

BLOCKS = ("MLP", "ViT")
VARIANTS = ("original", "dln", "cdln")


def fast_blocks(fast) -> frozenset:
    """The blocks that run at fast settings: ``True`` every block, ``False`` none, or a collection of names of
    :data:`BLOCKS` (ValueError naming any other)."""
    if isinstance(fast, bool):
        return frozenset(BLOCKS if fast else ())
    names = frozenset(fast)
    bad = sorted(names - set(BLOCKS))
    if bad:
        raise ValueError(f"fast: unknown block(s) {', '.join(map(repr, bad))}; valid: {', '.join(BLOCKS)}")
    return names


def settings(fast, seeds: int | None, data_dir: str | None, device: str, dtype: str, *, width: int = 784,
             rank_hat: int | None = None, fashion_dir: str | None = None) -> dict:
    """The run settings of each block of the table: at fast settings (a subset and few epochs of the real data)
    for the blocks ``fast`` names (:func:`fast_blocks`), the paper's for the others; ``seeds`` maps each block to
    its number of seeds (default 2 fast, 5 at the paper's settings, as Table 1)."""
    vit_data = "cifar10" if data_dir else "fashion-mnist"
    quick = fast_blocks(fast)
    if "MLP" in quick:
        mlp = dict(dataset="fashion-mnist", arch="mlp", n_train=10000, n_test=2000, epochs=5, batch_size=32)
    else:
        mlp = dict(dataset="fashion-mnist", arch="mlp", epochs=50, batch_size=128)
    if "ViT" in quick:
        vit = dict(dataset=vit_data, arch="vit", vit_preset="tiny", n_train=10000, n_test=2000, epochs=5, batch_size=64,
                   lr=1e-3)
    else:
        vit = dict(dataset=vit_data, arch="vit", vit_preset="paper", epochs=100, batch_size=512)
    n_seeds = {b: seeds or (2 if b in quick else 5) for b in BLOCKS}
    for blk in (mlp, vit):
        blk.update(device=device, dtype=dtype)
        if rank_hat is not None:
            blk["rank_hat"] = rank_hat
    if width != 784:
        mlp["width"] = width
    if fashion_dir:
        mlp["data_dir"] = fashion_dir
    if data_dir:
        vit["data_dir"] = data_dir
    elif fashion_dir:
        vit["data_dir"] = fashion_dir
    return {"MLP": mlp, "ViT": vit, "seeds": n_seeds, "fast": sorted(quick)}


def configs(cfg: dict) -> list:
    """Every training of the table (:func:`settings`' ``cfg``), seed-major within each block, so that a cluster
    working through them in this order completes whole seeds first."""
    from sim.nonlinear import TrainConfig

    return [TrainConfig(variant=v, seed=s, **cfg[b]) for b in BLOCKS for s in range(cfg["seeds"][b]) for v in VARIANTS]


def make_missing(cfg: dict, runs_root, *, workers: int | None = None, scheduler: str | None = None,
                 progress=print) -> int:
    """Make the trainings of ``cfg`` the run cache lacks on a Dask cluster (an embedded LocalCluster of
    ``workers`` processes, or the one at ``scheduler``), one torch thread each, in :func:`configs`' order;
    returns how many were made (:func:`sweep.trainings.train_missing`)."""
    from sweep.trainings import train_missing

    return train_missing(configs(cfg), runs_root, scheduler=scheduler, workers=workers, progress=progress)


def load_block_data(cfg: dict) -> dict:
    """Each block's dataset, loaded (and checksummed) once."""
    from sim.nonlinear import load_dataset

    return {b: load_dataset(cfg[b]["dataset"], cfg[b].get("data_dir")) for b in BLOCKS}


def build_rows(cfg: dict, *, runs_root="runs", progress=print, data: dict | None = None) -> list[dict]:
    from sim.nonlinear import TrainConfig, train_cached

    data_by_block = data if data is not None else load_block_data(cfg)
    rows = []
    for block in BLOCKS:
        base = cfg[block]
        data = data_by_block[block]
        for variant in VARIANTS:
            results = []
            for seed in range(cfg["seeds"][block]):
                tc = TrainConfig(variant=variant, seed=seed, **base)
                t0 = time.perf_counter()
                res, cached = train_cached(tc, runs_root, data=data)
                results.append(res)
                progress(f"  {block} {variant:8s} seed {seed}: test acc {res.final_acc:.4f}, "
                         f"{'cached' if cached else f'{time.perf_counter() - t0:.1f} s'}")
            acc = np.array([r.final_acc for r in results]) * 100
            t99 = np.array([r.time_to(0.99) for r in results])
            rows.append({"model": block, "variant": variant, "dataset": base["dataset"],
                         "acc_mean": float(acc.mean()), "acc_std": float(acc.std(ddof=1)) if acc.size > 1 else 0.0,
                         "time99_mean_s": float(t99.mean()), "time99_std_s": float(t99.std(ddof=1)) if t99.size > 1 else 0.0,
                         "train_time_s": float(np.mean([r.time_s[-1] for r in results])),
                         "macs": results[0].macs, "params": results[0].params,
                         "memory_mb": float(np.max([r.peak_memory_mb for r in results])),
                         "memory_kind": results[0].memory_kind, "seeds": len(results),
                         "curves": [{"steps": r.steps, "time_s": r.time_s, "test_acc": r.test_acc} for r in results]})
    return rows


def _orderings(rows) -> list[str]:
    out = []
    for block in BLOCKS:
        r = {x["variant"]: x for x in rows if x["model"] == block}
        o, d, c = r["original"], r["dln"], r["cdln"]
        out.append(f"{block}: parameters C-DLN < Original < DLN: {c['params'] < o['params'] < d['params']}; "
                   f"MACs C-DLN < Original < DLN: {c['macs'] < o['macs'] < d['macs']}; "
                   f"accuracy DLN ≥ Original: {d['acc_mean'] >= o['acc_mean']}; "
                   f"|C-DLN − DLN| accuracy {abs(c['acc_mean'] - d['acc_mean']):.2f} points; "
                   f"C-DLN training time / DLN: {c['train_time_s'] / d['train_time_s']:.2f}")
    return out


def _which_settings(fast) -> str:
    """The title's words for the settings: all fast, all the paper's, or each block's (``fast``: the JSON's list
    of fast blocks; a JSON written before the list existed holds a bool)."""
    quick = fast_blocks(fast)
    if quick == set(BLOCKS) or not quick:
        return "fast settings" if quick else "the paper's settings"
    return ", ".join(f"{b} at {'fast' if b in quick else 'the paper’s'} settings" for b in BLOCKS)


def _seeds_text(seeds) -> str:
    if isinstance(seeds, int) or len(set(seeds.values())) == 1:
        return f"{seeds if isinstance(seeds, int) else next(iter(seeds.values()))} seeds"
    return ", ".join(f"{n} seeds ({b})" for b, n in seeds.items())


def _threads_text(threads) -> str:
    """How the trainings ran: a JSON before the Dask path recorded a thread count."""
    return f"trainings made here on {threads} torch threads" if isinstance(threads, int) else threads


def format_markdown(rows, meta) -> str:
    names = {"original": "Original", "dln": "DLN", "cdln": "C-DLN"}
    lines = [f"# Table 1 — nonlinear networks with a DLN penultimate layer ({_which_settings(meta['fast'])})", "",
             f"Generated by `{meta['command']}` on {meta['device_name']} (torch {meta['torch']}; {_threads_text(meta['threads'])}), "
             f"{_seeds_text(meta['seeds'])}; numbers are mean ± std over seeds.", "",
             "| model | data | penultimate | test accuracy (%) | time to 99% of final acc. (s) | training time (s) | MACs / example | peak memory (MB) | parameters |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['dataset']} | {names[r['variant']]} | {r['acc_mean']:.2f} ± {r['acc_std']:.2f} | "
                     f"{r['time99_mean_s']:.2f} ± {r['time99_std_s']:.2f} | {r['train_time_s']:.2f} | {r['macs']:.3e} | "
                     f"{r['memory_mb']:.1f} | {r['params'] / 1e6:.3f} M |")
    lines += ["", "**Orderings (computed from the rows above):**", ""] + [f"- {x}" for x in meta["orderings"]] + [""]
    lines += ["**Settings.** " + "; ".join(f"{k}: " + ", ".join(f"{a} = {b}" for a, b in meta["settings"][k].items())
                                        for k in BLOCKS) + ".", "",
              "MLP: x → 784 → ρ → 784 → ρ → penultimate (784 → 784) → ρ → 10, ρ = ReLU, plain SGD at η = 5e-3, α = 1 "
              "(the paper's). DLN: the penultimate map is a product of three 784 × 784 factors. C-DLN: widths "
              "784 → 40 → 40 → 784 (r̂ = 4 d_y), W̃_3 on the top right singular vectors of M^corr = Y Xᵀ completed at "
              "random, W̃_4 = ε I, W̃_5 random orthonormal, ε = 1. ViT: patch embedding, class token, pre-norm "
              "blocks; the variants change the last block's MLP output layer (mlp → dim); Adam with cosine annealing.",
              "",
              "Memory: " + rows[0]["memory_kind"] + ("; on a CPU this is the whole process's resident set "
                                                     "(data, libraries and model), so differences between rows are "
                                                     "small and partly noise." if "resident" in rows[0]["memory_kind"] else "."),
              ""]
    if meta["vit_substitute"]:
        lines += ["**CIFAR-10 is not installable offline here**: the ViT rows are trained on Fashion-MNIST in its "
                  "place (the loader for the CIFAR-10 python batches exists and is tested; pass "
                  "`--data-dir cifar-10-batches-py` to use it).", ""]
    quick = fast_blocks(meta["fast"])
    if quick:
        lines += [f"The fast settings ({' and '.join(b for b in BLOCKS if b in quick)}) train on a 10000-image subset "
                  "for 5 epochs: enough to show the orderings of parameters and MACs, not the converged accuracies of "
                  "the paper (89.9 / 90.2 / 90.3% for the MLP).", ""]
    if "ViT" in quick and "MLP" not in quick:
        mlp = meta["settings"]["MLP"]
        lines += ["The ViT is at fast settings because the paper's (its ViT, 6 blocks of width 512, 100 epochs on "
                  "CIFAR-10) needs data this machine cannot get and months of CPU time (~18 s a 64-image step on "
                  "one core); the MLP rows are at Table 1's own "
                  f"settings (every training image, {mlp['epochs']} epochs, batch {mlp['batch_size']}).", ""]
    return "\n".join(lines)


def _fast_arg(value) -> bool | frozenset:
    """``--fast``'s value: absent (False), bare (True: every block) or comma-separated block names."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    return fast_blocks(x.strip() for x in value.split(",") if x.strip())


def default_out(fast) -> str:
    """docs/table1 when every block is at fast settings (what ``make run`` redraws), else docs/table1-paper."""
    return "docs/table1" if fast_blocks(fast) == set(BLOCKS) else "docs/table1-paper"


def table1_command(args, parser) -> int:
    import torch

    from sim.nonlinear import DataError, TrainConfig

    if args.seeds is not None and args.seeds < 1:
        parser.exit(2, f"cdln table1: error: seeds must be an integer >= 1, got {args.seeds}\n")
    if args.workers is not None and args.workers < 1:
        parser.exit(2, f"cdln table1: error: workers must be an integer >= 1, got {args.workers}\n")
    if args.device != "cpu" and not (args.device.startswith("cuda") and torch.cuda.is_available()):
        parser.exit(2, f"cdln table1: error: device {args.device!r} is not available on this machine\n")
    try:
        fast = _fast_arg(args.fast)
        cfg = settings(fast, args.seeds, args.data_dir, args.device, args.dtype, width=args.width,
                       rank_hat=args.rank_hat, fashion_dir=args.fashion_dir)
        # everything is checked before any training starts: configs (widths, r̂ >= d_y) and data
        for block in BLOCKS:
            for v in VARIANTS:
                TrainConfig(variant=v, **cfg[block])
        data = load_block_data(cfg)
    except (DataError, ValueError) as exc:
        parser.exit(2, f"cdln table1: error: {exc}\n")
    t0 = time.perf_counter()
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    made = 0
    if args.workers is not None or args.scheduler is not None:
        made = make_missing(cfg, args.runs, workers=args.workers, scheduler=args.scheduler, progress=log)
        threads = f"{made} trainings made on Dask workers, one torch thread each"
    else:
        threads = f"trainings made here on {torch.get_num_threads()} torch threads"
    rows = build_rows(cfg, runs_root=args.runs, progress=log, data=data)
    dev = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU ({os.cpu_count()} cores)"
    flag = "" if not fast else " --fast" + ("" if fast is True else " " + ",".join(sorted(fast)))
    meta = {"command": "cdln table1" + flag + (f" --seeds {args.seeds}" if args.seeds else ""),
            "fast": cfg["fast"], "seeds": cfg["seeds"], "settings": {b: cfg[b] for b in BLOCKS}, "device_name": dev,
            "torch": torch.__version__, "threads": threads, "vit_substitute": not args.data_dir,
            "wall_s": round(time.perf_counter() - t0, 1)}
    meta["orderings"] = _orderings(rows)
    out = Path(args.out or default_out(fast))
    atomic_write_text(out.with_suffix(".json"), json.dumps({**meta, "rows": rows}, indent=1))
    atomic_write_text(out.with_suffix(".md"), format_markdown(rows, meta))
    print(format_markdown(rows, meta).split("\n\n", 2)[2].split("\n\n")[0])
    print("\n".join(meta["orderings"]))
    print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.json')} ({meta['wall_s']} s)")
    return 0

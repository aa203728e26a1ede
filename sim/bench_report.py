"""The report of ``cdln bench`` (:mod:`sim.bench`): its table, the issue's targets with measured values, JSON, Markdown.

Every number printed comes from the result dict of :func:`sim.bench.run_bench`; ratios above 1 in
``x/ours`` columns mean our step is faster. A *fraction of the matmul rate* is useful FLOPs per second
over the rate :math:`R` of one large ``torch.mm`` measured in the same run:

.. math:: \\text{matmul\\_fraction} = \\frac{\\text{run-steps/s}\\times F}{R},\\qquad F = 2\\times\\text{gd\\_step\\_macs}.

*Kernels* is the step's matmuls replayed alone (same shapes and kernels, preallocated outputs): what is
left when every Python, dispatch and allocation cost is gone; ``kernels/ours`` near 1 means the step's
time is its BLAS kernels'. *Ours* is the default ``kernel="torch"`` (the reference every test compares
with); ``np-kernel`` is the same engine with ``kernel="numpy"`` (:mod:`sim.fused_np`: a compiled loop,
:mod:`sim.fused_nb`, calling NumPy's OpenBLAS, within a stated rounding bound of torch), and every
kernel-dependent target is reported for both.
"""

from __future__ import annotations

import json

__all__ = ["format_bench", "targets", "to_json", "write_outputs"]


def _ratio(r: dict, name: str) -> str:
    return f"{r[name + '_s'] / r['ours_s']:.2f}" if name + "_s" in r else "—"


def format_bench(res: dict) -> str:
    peer = res.get("peer")
    head = (f"cdln bench — {res['device']}{' (' + res['gpu'] + ')' if res['gpu'] else ''}, {res['dtype']}, "
            f"{res['threads']} threads, torch {res['torch']}")
    if peer:
        head += f"; peer {res['peer_version']} (jit + lax.fori_loop + grad)"
    out = [head, f"matmul rate: {res['matmul_gflops']:.1f} GFLOP/s (torch.mm, n = {res['matmul_n']})"]
    if res.get("peer_skipped"):
        out.append(f"peer skipped: {res['peer_skipped']}")
    out += ["", "One GD step, factorization, L = 3 (compressed: r̂ = 20; f = factored residual-free step)",
            f"  {'model':<13}{'d':>5}{'ours ms':>10}{'np-kernel':>10}{'GFLOP/s':>9}{'of mm':>7}{'kernels':>9}{'eager/ours':>11}"
            f"{'numpy/ours':>11}{'autograd/ours':>14}{'jax/ours':>10}"]
    for r in res["steps"]:
        blas = f"{r['kernels_s'] / r['ours_s']:.0%}" if "kernels_s" in r else "—"
        npk = f"{r['numpy_kernel_s'] * 1e3:.3f}" if "numpy_kernel_s" in r else "—"
        out.append(f"  {r['model'] + (' f' if r['factored'] else ''):<13}{r['d']:>5}{r['ours_s'] * 1e3:>10.3f}{npk:>10}"
                   f"{r['gflops']:>9.1f}{r['fraction_of_matmul']:>7.0%}{blas:>9}{_ratio(r, 'eager'):>11}"
                   f"{_ratio(r, 'numpy'):>11}{_ratio(r, 'autograd'):>14}{_ratio(r, 'jax'):>10}")
    out += ["", "Batched runs, one batched computation: run-steps/s (fraction of the matmul rate in useful FLOPs)"]
    for b in res["batched"]:
        cells = "  ".join(f"B={B}: {v:,.0f} ({b['matmul_fraction'][B]:.0%})" for B, v in b["run_steps_per_s"].items())
        out.append(f"  {b['model']:<11}d={b['d']:<4} {cells}")
        if "numpy_kernel" in b:
            nk = b["numpy_kernel"]
            alone = (f";  its matmuls alone, B={nk['kernels']['B']}: {nk['kernels']['run_steps_per_s']:,.0f} "
                     f"({nk['kernels']['matmul_fraction']:.0%})") if "kernels" in nk else ""
            out.append("  " + " " * 17 + "kernel numpy: " + "  ".join(
                f"B={B}: {v:,.0f} ({nk['matmul_fraction'][B]:.0%})" for B, v in nk["run_steps_per_s"].items()) + alone)
        extra = []
        if "mixed_eta" in b:
            m = b["mixed_eta"]
            extra.append(f"a different η per instance, B={m['B']}: {m['run_steps_per_s']:,.0f} ({m['matmul_fraction']:.0%})")
        if "jax" in b:
            j = b["jax"]
            extra.append(f"jax vmap B={j['B']}: {j['run_steps_per_s']:,.0f} ({j['matmul_fraction']:.0%})")
        if "kernels" in b:
            kb = b["kernels"]
            extra.append(f"its matmuls alone, B={kb['B']}: {kb['run_steps_per_s']:,.0f} ({kb['matmul_fraction']:.0%})")
        if extra:
            out.append("  " + " " * 17 + ";  ".join(extra))
    if peer:
        out += ["", "Per GD step, side by side (this run): cdln, the authors' style in JAX, plain NumPy",
                "  | case | cdln | cdln, kernel numpy | JAX | cdln / JAX | kernel numpy / JAX | NumPy | cdln / NumPy |",
                "  |---|---|---|---|---|---|---|---|"]
        for r in res["steps"]:
            case = f"wide, d = {r['d']}" if r["model"] == "wide" else f"compressed r̂ = 20, d = {r['d']}"
            np_ms = f"{r['numpy_s'] * 1e3:.3f} ms" if "numpy_s" in r else "—"
            np_r = f"{r['ours_s'] / r['numpy_s']:.2f}" if "numpy_s" in r else "—"
            nk = "numpy_kernel_s" in r
            nk_ms = f"{r['numpy_kernel_s'] * 1e3:.3f} ms" if nk else "—"
            nk_r = f"{r['numpy_kernel_s'] / r['jax_s']:.2f}" if nk else "—"
            out.append(f"  | {case} | {r['ours_s'] * 1e3:.3f} ms | {nk_ms} | {r['jax_s'] * 1e3:.3f} ms | "
                       f"{r['ours_s'] / r['jax_s']:.2f} | {nk_r} | {np_ms} | {np_r} |")
    if res.get("sensing"):  # absent in results written before the sensing rows existed
        out += ["", "One GD step, sensing, L = 3 (its operator A streamed from memory: GB/s is A's bytes over the step)",
                f"  {'model':<13}{'d':>5}{'m':>6}{'A MB':>8}{'ours ms':>10}{'GB/s':>7}{'np-kernel':>11}{'GB/s':>7}"
                f"{'np-kernel/ours':>16}"]
        for r in res["sensing"]:
            nk = "numpy_kernel_s" in r
            out.append(f"  {r['model']:<13}{r['d']:>5}{r['m']:>6}{r['operator_mb']:>8.0f}{r['ours_s'] * 1e3:>10.2f}"
                       f"{r['ours_gb_per_s']:>7.1f}" + (f"{r['numpy_kernel_s'] * 1e3:>11.2f}{r['numpy_kernel_gb_per_s']:>7.1f}"
                                                        f"{r['ours_s'] / r['numpy_kernel_s']:>15.2f}x" if nk else ""))
    out += ["", "Targets (issue 13; CPU targets need --device cpu, JAX ones --peer jax)"]
    for name, ok, value in targets(res):
        out.append(f"  [{'met' if ok else 'NOT met'}] {name}: {value}")
    return "\n".join(out)


def _share(r) -> str:
    if "kernels_s" not in r:
        return ""
    s = f"; its matmuls alone take {r['kernels_s'] / r['ours_s']:.0%} of ours"
    return s + (f", {r['kernels_s'] / r['jax_s']:.2f}x JAX's whole step" if "jax_s" in r else "")


KERNEL_COLUMNS = (("torch", "ours_s"), ("numpy", "numpy_kernel_s"))  #: each kernel's per-step column in a step row


def targets(res: dict) -> list[tuple[str, bool, str]]:
    """The issue's speed targets, each with the measured value (and, where useful, the measured reason); the
    kernel-dependent ones once per kernel measured (``kernel torch`` is ours, the default)."""
    rows = []
    st = res["steps"]
    for kname, col in KERNEL_COLUMNS:
        share = _share if kname == "torch" else (lambda r: "")
        c100 = [r for r in st if r["model"] == "compressed" and r["d"] == 100 and col in r]
        if c100 and "jax_s" in c100[0]:
            v = c100[0][col] / c100[0]["jax_s"]
            rows.append((f"compressed d=100 step at most 1.2x JAX's (kernel {kname})", v <= 1.2,
                         f"cdln ({kname} kernel)/JAX {v:.2f}{share(c100[0])}"))
        for model in ("wide", "compressed"):
            np_rows = [r for r in st if r["model"] == model and r["d"] >= 200 and "numpy_s" in r and col in r]
            if np_rows:
                w = max(np_rows, key=lambda r: r[col] / r["numpy_s"])
                v = w[col] / w["numpy_s"]
                rows.append((f"{model} step within 1.25x of NumPy for d >= 200 (kernel {kname})", v <= 1.25,
                             f"worst cdln ({kname} kernel)/numpy {v:.2f} (d = {w['d']}){share(w)}"))
    big = [r for r in st if r["model"] == "wide" and r["d"] >= 500]
    if big:
        v = min(r["fraction_of_matmul"] for r in big)
        rows.append(("wide step >= 70% of the matmul rate for d >= 500", v >= 0.7, f"min {v:.0%}"))
    v = min(r["autograd_s"] / r["ours_s"] for r in st)
    rows.append(("never slower than autograd", v >= 1.0, f"min autograd/ours {v:.2f}"))
    goals = {("compressed", 100): (64, 0.70), ("wide", 20): (1024, 0.50)}
    for b in res["batched"]:
        B, goal = goals.get((b["model"], b["d"]), (None, None))
        if B not in b["matmul_fraction"]:
            continue
        for kname, m in (("torch", b), ("numpy", b.get("numpy_kernel"))):
            if m is None:
                continue
            v = m["matmul_fraction"][B]
            kb = b.get("kernels") if kname == "torch" else m.get("kernels")
            alone = f"; its matmuls alone reach {kb['matmul_fraction']:.0%}" if kb and kb.get("B") == B else ""
            rows.append((f"B={B} {b['model']} d={b['d']} >= {goal:.0%} of the matmul rate (kernel {kname})", v >= goal,
                         f"{v:.0%}{alone}"))
            if "jax" in b:
                j = b["jax"]["run_steps_per_s"]
                rows.append((f"B={B} {b['model']} d={b['d']} faster than JAX's vmap (kernel {kname})",
                             m["run_steps_per_s"][B] >= j,
                             f"cdln ({kname} kernel)/JAX throughput {m['run_steps_per_s'][B] / j:.2f}"))
    return rows


def to_json(res: dict) -> str:
    return json.dumps(res, indent=2, default=float)


def write_outputs(res: dict, *, json_path=None, markdown_path=None) -> None:
    """Write the JSON and/or a Markdown page (the table as printed), each atomically."""
    import datetime

    from .io import atomic_write_text as atomic

    if json_path:
        atomic(json_path, to_json(res))
    if markdown_path:
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        flags = ((" --peer jax" if res.get("peer") else "") + (" --quick" if res.get("quick") else "")
                 + (f" --threads {res['threads_pinned']}" if res.get("threads_pinned") else ""))
        lines = [
            f"# Benchmarks ({res['device']})", "",
            f"Generated by `cdln bench{flags} --markdown {markdown_path}` on {when}; numbers below are",
            "measured, not typed. Ratios `x/ours` above 1 mean our step is faster; `of mm` and the batched",
            "percentages are useful FLOPs per second over the matmul rate measured in the same run, and",
            "`kernels` the step's matmuls replayed alone as a share of our step (what no removal of Python,",
            "dispatch or allocation can take away). `f` marks the factored (residual-free) step the",
            "compressed DLN uses on factorization. `np-kernel` (and `kernel numpy`) is the same engine run with",
            "`--kernel numpy` (a numba-compiled loop calling NumPy's OpenBLAS, within a stated rounding bound of",
            "the torch step, see",
            "[Speed](simulation.md#speed)); every target that depends on the kernel is reported for both.",
            "Timings of sub-millisecond steps vary markedly between",
            "runs on a shared machine; each number is the best of interleaved repeats, and `cdln bench`",
            "prints fresh ones."]
        if res.get("threads_pinned"):
            n = res["threads_pinned"]
            lines += [f"Torch, NumPy's OpenBLAS and XLA were each pinned to {n} thread(s) (`--threads {n}`): on a",
                      "machine shared with other jobs, OpenMP threads that wait for a descheduled peer turn a",
                      "small product into a scheduler time slice."]
        atomic(markdown_path, "\n".join(lines + ["", "```", format_bench(res), "```", ""]))

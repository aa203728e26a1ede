"""What every figure script shares: colours, the run cache, panels, and atomic PNG + JSON output.

A figure script (``docs/figures/NAME.py``) defines ``TITLE``, ``CAPTION``, ``PAPER`` (what the
paper's figure shows, or ``None`` for a new figure), ``FAST`` and ``FULL`` settings, and
``make(ctx) -> (matplotlib Figure, data dict, notes list)``. It asks for runs through
:meth:`Context.run`, which reads ``runs/<config hash>/`` when the run exists and launches it
otherwise (``sim.run``), so a second ``cdln figures`` only re-plots.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import sim  # noqa: E402
from sim.io import atomic_write_text  # noqa: E402

__all__ = ["COLORS", "LABELS", "Context", "plt", "mean_metric", "error_panels", "sv_panel", "align_panel", "fit_steps",
           "SYNTH_FULL", "SYNTH_FAST", "subset", "target_sigma", "incremental_figure", "comparison_figure",
           "PENULTIMATE_FULL", "PENULTIMATE_FAST", "penultimate_configs", "penultimate_runs", "png_size", "first_reach", "reach_note",
           "movielens_theory", "as_recorded", "recorded"]

#: the same colour for each network in every figure
COLORS = {"wide": "#1f4e9c", "compressed": "#d1495b", "altmin": "#2a9d55", "theory": "#222222",
          "recurrence": "#e39b1b", "flow": "#222222",
          # nonlinear networks: the over-parameterized DLN layer is the "wide" one, C-DLN the compressed one
          "dln": "#1f4e9c", "cdln": "#d1495b", "original": "#7a7a7a"}
LABELS = {"wide": "wide DLN (original)", "compressed": "compressed DLN (Alg. 1)", "altmin": "AltMin",
          "original": "Original (linear penultimate)", "dln": "DLN penultimate", "cdln": "C-DLN penultimate"}

plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 110, "font.size": 9, "axes.grid": True,
                     "figure.constrained_layout.use": True,
                     "grid.alpha": 0.3, "legend.fontsize": 8, "axes.titlesize": 10})


@dataclass
class Context:
    """Handed to a figure script: its settings (fast or full), the run cache and the output folder."""

    name: str
    fast: bool
    settings: dict
    runs_root: Path = Path("runs")
    out_dir: Path = Path("docs/figures")
    runs_used: list = field(default_factory=list)
    quiet: bool = False
    #: collecting mode (``cdln figures --paper``): runs the store lacks are appended here, not launched
    collect: list | None = None
    #: the nonlinear trainings (sim.nonlinear) the script read: key, whether cached, training seconds
    trainings: list = field(default_factory=list)

    def run(self, **kw) -> sim.Run:
        """The run with these config keys (cached under runs/<hash>/, launched if missing).

        In collecting mode a missing run is recorded in ``collect`` and a :class:`PendingRun` is returned,
        which stops the script the moment it reads the run (:class:`Pending`): a pass over every script
        declares the runs they need before any is made, so a sweep can make them all at once."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # r̂ < r is shown on purpose in some figures
            cfg = sim.RunConfig(**kw)
        if self.collect is not None and not (Path(self.runs_root) / cfg.key() / "summary.json").is_file():
            self.collect.append(cfg)
            return PendingRun(cfg)
        t0 = time.perf_counter()
        r = sim.run(cfg, root=self.runs_root)
        self.runs_used.append({"key": cfg.key(), "cached": r.cached, **{k: v for k, v in kw.items()}})
        if not self.quiet:
            how = "cached" if r.cached else f"ran in {time.perf_counter() - t0:.1f} s"
            desc = " ".join(f"{k}={v}" for k, v in kw.items())
            print(f"  [{self.name}] run {cfg.key()} ({how}): {desc}", file=sys.stderr)
        return r

    def train(self, cfg, data=None):
        """The nonlinear training of ``cfg`` (a :class:`sim.nonlinear.TrainConfig`) from the run cache, trained
        now if missing; recorded in :attr:`trainings` with its training time (evaluation excluded)."""
        from sim.nonlinear import train_cached
        from sim.nonlinear.cache import config_key

        res, cached = train_cached(cfg, self.runs_root, data=data)
        self.trainings.append({"key": config_key(cfg), "cached": cached, "train_s": float(res.time_s[-1])})
        return res

    def cached_training_s(self) -> float:
        """Training seconds of the distinct nonlinear trainings the script read from the cache (those it made
        are in its drawing time)."""
        return sum({t["key"]: t["train_s"] for t in self.trainings if t["cached"]}.values())

    def save(self, fig, data: dict, *, meta: dict) -> tuple[Path, Path]:
        """Write NAME.png and NAME.json atomically (temporary file, then rename)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        png, js = self.out_dir / f"{self.name}.png", self.out_dir / f"{self.name}.json"
        fd, tmp = tempfile.mkstemp(suffix=".png", dir=self.out_dir)
        os.close(fd)
        try:
            fig.savefig(tmp, format="png", bbox_inches="tight")
            os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; these are published
            os.replace(tmp, png)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        plt.close(fig)
        payload = {**meta, "png_size": list(png_size(png)), "settings": self.settings, "runs": self.runs_used,
                   "data": _plain(data)}
        atomic_write_text(js, json.dumps(payload, indent=1, allow_nan=True))
        return png, js


class Pending(Exception):
    """A figure script read a run that is not made yet (collecting mode)."""


class PendingRun:
    """Stands in for a run being collected: reading anything from it raises :class:`Pending`."""

    def __init__(self, cfg):
        object.__setattr__(self, "_cfg", cfg)

    def __getattr__(self, name):
        raise Pending(object.__getattribute__(self, "_cfg").key())


def png_size(path) -> tuple[int, int]:
    """(width, height) in pixels, from the PNG's header (the IHDR chunk that must come first)."""
    head = Path(path).read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"{path} is not a PNG file")
    return struct.unpack(">II", head[16:24])


def _plain(x):
    """numpy → lists, rounded to 6 significant digits (the JSON is for reading, the runs hold full precision)."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return _plain(x.tolist())
    if isinstance(x, (np.floating, float)):
        return float(f"{float(x):.6g}")
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def as_recorded(x):
    """``x`` as a figure's JSON records it (numpy → lists, 6 significant digits): notes computed from this are
    the ones a reader recomputes from the JSON."""
    return _plain(x)


# ------------------------------------------------------------------------------------------- panels
def mean_metric(run: sim.Run, metric: str, x: str = "step") -> tuple[np.ndarray, np.ndarray]:
    """(x, mean over seeds of ``metric``) at each logged step."""
    g = run.metrics.groupby("step", sort=True)
    return g[x].first().to_numpy() if x != "step" else np.array(sorted(g.groups)), g[metric].mean().to_numpy()


def error_panels(ax_iter, ax_time, runs: dict, metric: str = "recovery_error", ylabel="recovery error ‖W−M*‖_F/‖M*‖_F"):
    """Error against iterations (and against wall-clock training time when ``ax_time`` is given)."""
    out = {}
    for kind, r in runs.items():
        steps, y = mean_metric(r, metric)
        _, t = mean_metric(r, "time_s")
        ax_iter.plot(steps, y, color=COLORS[kind], label=LABELS[kind])
        if ax_time is not None:
            ax_time.plot(t, y, color=COLORS[kind], label=LABELS[kind])
        out[kind] = {"step": steps, "time_s": t, metric: y}
    for ax, xl in ((ax_iter, "iteration"), (ax_time, "training time (s)")):
        if ax is None:
            continue
        ax.set_yscale("log")
        ax.set_xlabel(xl)
        ax.set_ylabel(ylabel)
        ax.legend()
    return out


def sv_panel(ax, run: sim.Run, k: int, sigma=None, *, log: bool = False, seed_index: int = 0):
    """The top-k singular values of :math:`W_{L:1}` against iterations, dotted lines at the target's σ*_i."""
    steps = np.array(sorted(run.metrics["step"].unique()))
    sv = run.singular_values[:, seed_index, :k]
    cmap = plt.get_cmap("viridis")
    for i in range(sv.shape[1]):
        ax.plot(steps, sv[:, i], color=cmap(i / max(k - 1, 1)), lw=1.2, label=f"σ_{i + 1}" if i < 10 else None)
    if sigma is not None:
        for i, s in enumerate(sigma):
            ax.axhline(s, color=cmap(i / max(k - 1, 1)), ls=":", lw=0.8)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("singular value of W_{L:1}")
    return {"step": steps, "singular_values": sv}


def align_panel(ax, run: sim.Run, r: int, *, seed_index: int = 0):
    """|⟨u_i(t), u_i*⟩| (solid) and |⟨v_i(t), v_i*⟩| (dashed) for the top r modes."""
    steps = np.array(sorted(run.metrics["step"].unique()))
    au = run.alignment["u"][:, seed_index, :r]
    av = run.alignment["v"][:, seed_index, :r]
    cmap = plt.get_cmap("viridis")
    for i in range(r):
        c = cmap(i / max(r - 1, 1))
        ax.plot(steps, au[:, i], color=c, lw=1.2, label=f"mode {i + 1}" if i < 10 else None)
        ax.plot(steps, av[:, i], color=c, lw=1.0, ls="--")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("iteration")
    ax.set_ylabel("|⟨u_i, u_i*⟩| (solid), |⟨v_i, v_i*⟩| (dashed)")
    return {"step": steps, "align_u": au, "align_v": av}


def fit_steps(run: sim.Run, sigma, delta: float = 0.01, seed_index: int = 0) -> np.ndarray:
    """First logged step at which :math:`σ_i(W_{L:1}) ≥ (1 − δ) σ^*_i`, per mode (NaN if never)."""
    steps = np.array(sorted(run.metrics["step"].unique()))
    sv = run.singular_values[:, seed_index, : len(sigma)]
    out = np.full(len(sigma), np.nan)
    for i, s in enumerate(sigma):
        hit = np.nonzero(sv[:, i] >= (1 - delta) * s)[0]
        if hit.size:
            out[i] = steps[hit[0]]
    return out


# ------------------------------------------------------------------------------------------- settings
#: the paper's synthetic setting (SPEC §5: d = 100, r = 10, r̂ = 2r, L = 3, η = 10 with the authors'
#: mean-normalised loss, α = 5). FULL uses the text's ε = 1e-3; FAST the authors' code's ε = 1e-2,
#: which learns the same modes ten times sooner (fit time ∝ 1/ε for L = 3).
SYNTH_FULL = dict(d=100, rank=10, rank_hat=20, depth=3, eps=1e-3, eta=10.0, loss="mean", alpha=5.0,
                  steps=150_000, log_every=500, seeds=1)
SYNTH_FAST = dict(SYNTH_FULL, eps=1e-2, steps=15_000, log_every=100)


#: Figs. 1 and 20 share two tracked MNIST runs (Appendix A.4: four 256-wide layers, SGD lr 0.01, batch 128)
PENULTIMATE_FULL = dict(dataset="mnist", width=256, lr=0.01, batch_size=128, epochs=20, n_train=None, n_test=None)
PENULTIMATE_FAST = dict(PENULTIMATE_FULL, epochs=3, n_train=10000, n_test=2000)


def penultimate_configs(s: dict) -> list:
    """The DLN (``linear``) and MLP trainings with the penultimate weight tracked that Figs. 1 and 20 share, for
    their settings ``s`` (PENULTIMATE_FULL or _FAST)."""
    from sim.nonlinear import TrainConfig

    return [TrainConfig(dataset=s["dataset"], arch=arch, width=s["width"], lr=s["lr"], batch_size=s["batch_size"],
                        epochs=s["epochs"], n_train=s["n_train"], n_test=s["n_test"], track_penultimate=True)
            for arch in ("linear", "mlp")]


def penultimate_runs(ctx: Context) -> dict:
    """Figs. 1 and 20's two trainings (:func:`penultimate_configs`), by architecture: through the run cache, so
    the second figure only reads them."""
    from sim.nonlinear import load_dataset

    if ctx.collect is not None:  # nonlinear training is not a sim run: made when the figure is drawn
        raise Pending("penultimate runs")
    d = load_dataset(ctx.settings["dataset"])
    return {cfg.arch: ctx.train(cfg, data=d) for cfg in penultimate_configs(ctx.settings)}


def subset(settings: dict, *keys, **override) -> dict:
    """The run-config keys of ``settings`` (all of them, or ``keys``), with overrides."""
    cfg_keys = set(sim.RunConfig.__dataclass_fields__)
    out = {k: v for k, v in settings.items() if k in cfg_keys and (not keys or k in keys)}
    out.update(override)
    return out


def target_sigma(d: int, rank: int, seed: int = 0, d2: int | None = None) -> np.ndarray:
    """σ* of the authors' synthetic target that ``sim`` builds for this seed."""
    import theory

    return theory.authors_target((d, d if d2 is None else d2), rank, seed).sigma


def incremental_figure(ctx: Context, problem: str, *, log: bool = False, **extra):
    """Figs. 4, 8–13: the wide DLN's top singular values and singular-vector alignment along GD."""
    s = ctx.settings
    run = ctx.run(**subset(s, problem=problem, model="wide", **extra))
    r = s["rank"]
    sig = target_sigma(s["d"], r)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    d1 = sv_panel(a1, run, r + 5 if log else r + 2, sig, log=log)
    a1.set_title(f"singular values (dotted: σ*_i), {problem}, r = {r}")
    d2 = align_panel(a2, run, r)
    a2.set_title("alignment with the target's singular vectors")
    a1.legend(ncol=2, loc="lower right" if not log else "center right")
    ts = fit_steps(run, sig)
    fitted = ~np.isnan(ts)
    k = np.searchsorted(d1["step"], ts[fitted].astype(int))
    al = np.minimum(d2["align_u"][k, np.nonzero(fitted)[0]], d2["align_v"][k, np.nonzero(fitted)[0]]) if k.size else []
    spur = d1["singular_values"][:, r:] if d1["singular_values"].shape[1] > r else np.zeros((1, 1))
    notes = [f"modes reaching 0.99 σ*_i: {int(fitted.sum())} of {r}, at steps {[int(x) for x in ts[fitted]]}",
             f"fitted modes learned in decreasing order of σ*: {bool(np.all(np.diff(ts[fitted]) >= 0))}",
             f"alignment min(|⟨u_i,u_i*⟩|, |⟨v_i,v_i*⟩|) at each mode's fit step: ≥ {np.min(al):.4f}" if len(al) else
             "no mode fitted within the budget",
             f"largest spurious singular value σ_{r + 1}… over the run: {float(spur.max()):.3g} "
             f"(start {float(spur[0].max()):.3g})"]
    return fig, {"sigma_star": sig, "fit_steps": ts, **d1, **d2}, notes


def comparison_figure(ctx: Context, problem: str, *, note: str = ""):
    """Figs. 5 and 15: recovery error of the wide and compressed DLN against iterations and time."""
    s = ctx.settings
    runs = {m: ctx.run(**subset(s, problem=problem, model=m)) for m in ("wide", "compressed")}
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    data = error_panels(a1, a2, runs)
    ew, ec = data["wide"]["recovery_error"], data["compressed"]["recovery_error"]
    notes = [f"compressed ≤ wide at every logged step: {bool(np.all(ew - ec >= -1e-12))} "
             f"(smallest gap {np.min(ew - ec):.3g})",
             f"final recovery error: wide {ew[-1]:.3g}, compressed {ec[-1]:.3g}",
             f"training time for the whole budget: wide {data['wide']['time_s'][-1]:.2f} s, "
             f"compressed {data['compressed']['time_s'][-1]:.2f} s{note}"]
    return fig, data, notes


def first_reach(curve: dict, metric: str, level: float) -> tuple[int, float] | None:
    """The first logged (step, training time) of ``curve`` (step, time_s and ``metric`` lists) at which
    ``metric`` is at most ``level``; None if it never is."""
    hit = np.flatnonzero(np.asarray(curve[metric], float).ravel() <= level)
    return (int(curve["step"][hit[0]]), float(curve["time_s"][hit[0]])) if hit.size else None


def reach_note(data: dict, level: float) -> str:
    """The first logged step (and training time) at which each net's recovery error is at most ``level``."""
    out = {m: first_reach(data[m], "recovery_error", level) for m in ("wide", "compressed")}
    text = "; ".join(f"{m} {'never' if v is None else f'step {v[0]:,} ({v[1]:.1f} s)'}" for m, v in out.items())
    if out["wide"] and out["compressed"] and out["wide"][1] > 0:
        text += f": the compressed net in {out['compressed'][1] / out['wide'][1]:.2f} of the wide net's time"
    return f"first logged step with recovery error ≤ {level:g}: {text}"


def movielens_theory(s: dict, alphas) -> tuple[dict, float, int]:
    """theory's stable step (``s["loss"]``) for the compressed net on the MovieLens rating matrix at each α, from
    the σ_max that sim estimates for it (the same hint a diverging run prints); with σ_max and |Ω|, the number
    of training ratings. ``s`` holds rank_hat, depth, eps, eta, loss."""
    import torch

    import theory

    cfg = sim.RunConfig(problem="movielens", model="compressed", rank_hat=s["rank_hat"], depth=s["depth"],
                        eps=s["eps"], eta=s["eta"], loss=s["loss"])
    p = sim.make_problem(cfg, [cfg.seed], torch.device("cpu"))
    n_obs, smax = int(p.mask[0].sum()), p.sigma_max()
    eta_c = {float(a): float(theory.problem_critical_step_size(smax, depth=s["depth"], problem="completion",
                                                               shape=p.shape, loss=s["loss"], alpha=float(a),
                                                               n_observed=n_obs)) for a in alphas}
    return eta_c, smax, n_obs


def recorded(path, command: str) -> Path:
    """The committed record a figure draws from (a sweep's table, a benchmark's JSON): its path, or
    FileNotFoundError naming the command that writes it. Figures that read records run nothing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `{command}` first")
    return path

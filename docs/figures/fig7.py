"""Figure 7 — MovieLens-100K: the compressed DLN reaches the wide DLN's test error in a fraction of the time."""

import numpy as np

import theory
from cdln.plotting import COLORS, LABELS, mean_metric, movielens_theory, plt

TITLE = "Figure 7 — MovieLens-100K: test error against iterations and time"
CAPTION = ("MovieLens-100K (943 users × 1682 movies, ratings from recbole's copy, seeded 80/20 split), L = 3. Test "
           "error ‖P_test(W − R)‖_F/‖P_test(R)‖_F of the wide DLN (width 1682) and the compressed DLN (r̂ = 10, α = 5) "
           "against iterations (left) and training time (right, CPU, float64). The paper gives r̂, η and α but no "
           "ε: at the package's ε = 10⁻³ theory puts the first mode's escape at ~3·10⁴ steps for the wide net at "
           "η = 0.5 with the mean loss (both numbers are in the notes), so the paper-setting figure uses ε = 0.3, and "
           "each net is trained until its test error has made no new minimum, a decrease of more than 0.1 % of the best "
           "so far, in 15 logs (`--patience 15 --patience-delta 0.001`, 1,500 "
           "steps): the wide net to where it stops improving, as the paper's comparison needs. The fast settings "
           "use a larger step (still below the compressed net's stable step η_c that theory gives for this matrix; both are in the "
           "notes) and a larger init ε so that the wide net moves within a minute; it is still far from converged "
           "there, so the fast figure compares equal time, not equal error.")
PAPER = "with r̂ = 10 the compressed DLN reaches the wide DLN's test error in under 1/5 of the time."
PAPER_GAP = "the paper states no ε: ε = 0.3 (the caption says why); each net trained until its test error stops improving"
FULL = dict(eta=0.5, alpha=5.0, rank_hat=10, eps=0.3, depth=3, loss="mean", wide_steps=20_000, comp_steps=20_000,
            wide_log=100, comp_log=100, patience=15, patience_delta=1e-3)
# patience_delta: the wide net's test error creeps down by a few parts in 10⁶ a log for thousands of steps
# (measured to step 9,400 at these settings), so a strict "any new minimum" never stops it within a session
# each log costs three SVDs of 943 × 1682-sized matrices (~0.3 s on a CPU), so logs are sparse
FAST = dict(eta=2.0, alpha=5.0, rank_hat=10, eps=0.3, depth=3, loss="mean", wide_steps=40, comp_steps=800,
            wide_log=10, comp_log=40, patience=0)


def _theory(s) -> tuple[float, dict]:
    """theory's stable step (mean loss) for the compressed net on this rating matrix
    (:func:`cdln.plotting.movielens_theory`); and the first mode's escape in GD steps, for the wide (α = 1) and
    compressed (α) nets at ε = 10⁻³ and at this ε: gradient-flow fit time of σ_max (:func:`theory.fit_time`,
    δ = 0.01) over the step η/|Ω| that the mean loss gives each entry."""
    eta_c, smax, n_obs = movielens_theory(s, [s["alpha"]])
    rate = s["eta"] / n_obs if s["loss"] == "mean" else s["eta"]
    escape = {(e, a): theory.fit_time(smax, depth=s["depth"], eps=e, alpha=a) / rate
              for e in (1e-3, s["eps"]) for a in (1.0, s["alpha"])}
    return eta_c[float(s["alpha"])], escape


def make(ctx):
    s = ctx.settings
    common = dict(problem="movielens", rank_hat=s["rank_hat"], eps=s["eps"], depth=s["depth"], eta=s["eta"],
                  loss=s["loss"], **({"patience": s["patience"]} if s.get("patience") else {}),
                  **({"patience_delta": s["patience_delta"]} if s.get("patience_delta") else {}))
    runs = {"wide": ctx.run(model="wide", steps=s["wide_steps"], log_every=s["wide_log"], **common),
            "compressed": ctx.run(model="compressed", alpha=s["alpha"], steps=s["comp_steps"], log_every=s["comp_log"],
                                  **common)}
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    data = {}
    for kind, r in runs.items():
        x, y = mean_metric(r, "test_error")
        _, t = mean_metric(r, "time_s")
        _, rmse = mean_metric(r, "test_rmse")
        axes[0].plot(x, y, color=COLORS[kind], label=LABELS[kind])
        axes[1].plot(t, y, color=COLORS[kind], label=LABELS[kind])
        data[kind] = {"step": x, "time_s": t, "test_error": y, "test_rmse": rmse}
    for ax, xl in zip(axes, ("iteration", "training time (s)")):
        ax.set(xlabel=xl, ylabel="test error (relative)")
        ax.legend()
    w, c = data["wide"], data["compressed"]
    eta_c, escape = _theory(s)
    iw = int(np.argmin(w["test_error"]))
    best_w, t_best = float(w["test_error"][iw]), float(w["time_s"][iw])
    k = np.nonzero(c["test_error"] <= best_w)[0]
    stop = {kind: r.summary.get("stopped") for kind, r in runs.items()}
    notes = [f"wide DLN: best test error {best_w:.4f} (RMSE {np.min(w['test_rmse']):.4f}) at step {int(w['step'][iw])}, "
             f"{t_best:.1f} s of training; run stopped at step {int(w['step'][-1])} ({stop['wide'] or 'step budget'})",
             f"compressed DLN: best test error {np.min(c['test_error']):.4f} (RMSE {np.min(c['test_rmse']):.4f}) at step "
             f"{int(c['step'][np.argmin(c['test_error'])])}; run stopped at step {int(c['step'][-1])} "
             f"({stop['compressed'] or 'step budget'})",
             (f"the wide net's best test error ({best_w:.4f}) is no better than the compressed net's at step 0: it "
              "has not started learning within its budget, so there is no time ratio (the fast settings compare "
              "equal time, not equal error)") if iw == 0 or (k.size and k[0] == 0) else
             (f"compressed reaches the wide net's best test error at step {int(c['step'][k[0]])}, after "
              f"{c['time_s'][k[0]]:.2f} s: {c['time_s'][k[0]] / t_best:.1%} of the wide net's {t_best:.1f} s to it "
              f"(paper: under 1/5)") if k.size else
             "compressed never reaches the wide net's best test error within its budget",
             f"step η = {s['eta']:g} (mean loss) = {s['eta'] / eta_c:.2f} η_c, theory's compressed-net η_c = "
             f"{eta_c:.3g} for this matrix (α = {s['alpha']:g}); wide DLN {w['time_s'][-1] / max(w['step'][-1], 1):.2f} s "
             f"a step, compressed {c['time_s'][-1] / max(c['step'][-1], 1):.3f} s a step",
             "theory's first-mode escape (flow fit time of σ_max at rate η/|Ω|), in steps: " + ", ".join(
                 f"{'wide' if a == 1.0 else 'compressed'} at ε = {e:g}: {t:,.0f}" for (e, a), t in escape.items())]
    return fig, data, notes

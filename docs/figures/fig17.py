"""Figure 17 — α ablation on MovieLens-100K: the compressed DLN's test error for each outer-layer step multiplier α."""

import numpy as np

from cdln.plotting import as_recorded, first_reach, mean_metric, movielens_theory, plt

TITLE = "Figure 17 — α ablation on MovieLens-100K: test error against iterations and time"
CAPTION = ("Compressed DLN (r̂ = 10, L = 3, ε = 0.3, the MovieLens settings of Figure 7) on MovieLens-100K (recbole's "
           "copy, seeded 80/20 split) for outer-layer step multipliers α (colours, light to dark as α grows): test "
           "error ‖P_test(W − R)‖_F/‖P_test(R)‖_F against iterations (left) and training time (right, CPU, float64), "
           "for a fixed step budget, so that a test error that rises again after its minimum (overfitting) shows. "
           "Every α is below theory's stable step for this matrix (η/η_c(α) in the notes), so none diverges.")
PAPER = ("for large values of α the compressed network can overfit and incurs a large recovery error, whereas small "
         "values (e.g. α = 0.1) make it take significantly longer to converge.")
PAPER_GAP = ("the paper names no α values but 0.1, no ε and no budget: α = 0.1 … 40, Figure 7's ε = 0.3, "
             "10,000 steps each")
FULL = dict(eta=0.5, rank_hat=10, eps=0.3, depth=3, loss="mean", alphas=[0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0],
            steps=10_000, log_every=100)
# the fast version: Figure 7's fast step (η = 2); α = 20 would be past η_c there (1.09 η_c), so it stops at 10
FAST = dict(eta=2.0, rank_hat=10, eps=0.3, depth=3, loss="mean", alphas=[0.1, 1.0, 5.0, 10.0], steps=800,
            log_every=40)


def notes_from(data: dict, s: dict) -> list[str]:
    """Per α: η/η_c(α), the best test error and its (first) step, the rise after it, the final train loss, and
    the first logged step (and time) within 1 % of the best test error of any α."""
    rows = []
    for q in data["rows"]:
        d = data[f"alpha={q['alpha']:g}"]
        y = np.asarray(d["test_error"], float)
        i = int(np.argmin(y))
        rows.append(dict(q, best=float(y[i]), best_step=int(d["step"][i]), final=float(y[-1]),
                         final_train_loss=float(d["train_loss"][-1])))
    best = min(rows, key=lambda q: q["best"])
    # within 1 % of the best test error any α reaches
    reach = {q["alpha"]: first_reach(data[f"alpha={q['alpha']:g}"], "test_error", 1.01 * best["best"]) for q in rows}
    return [f"step η = {s['eta']:g} ({s['loss']} loss), {s['steps']:,} steps each; η/η_c(α) from theory for this "
            "matrix: " + ", ".join(f"α = {q['alpha']:g}: {q['eta_over_eta_c']:.3f}" for q in rows),
            "best test error (step): " + ", ".join(f"α = {q['alpha']:g}: {q['best']:.4f} ({q['best_step']:,})"
                                                  for q in rows),
            "rise after the best, final − best test error (overfitting): " + ", ".join(
                f"α = {q['alpha']:g}: {q['final'] - q['best']:+.4f}" for q in rows),
            "final train loss (ratings fitted): " + ", ".join(f"α = {q['alpha']:g}: {q['final_train_loss']:.4g}"
                                                              for q in rows),
            f"first logged step within 1 % of the best test error of any α ({best['best']:.4f}, α = "
            f"{best['alpha']:g}): " + ", ".join(f"α = {a:g}: " + (f"{v[0]:,} ({v[1]:.1f} s)" if v else "never")
                                                for a, v in reach.items())]


def make(ctx):
    s = ctx.settings
    common = dict(problem="movielens", model="compressed", rank_hat=s["rank_hat"], eps=s["eps"], depth=s["depth"],
                  eta=s["eta"], loss=s["loss"], steps=s["steps"], log_every=s["log_every"])
    # every run is asked for before any is read, so `cdln figures --paper` collects them in one pass
    runs = {float(a): ctx.run(alpha=float(a), **common) for a in s["alphas"]}
    eta_c, _, _ = movielens_theory(s, s["alphas"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    shades = plt.cm.Reds(np.linspace(0.35, 1.0, len(runs)))
    data, rows = {}, []
    for (a, r), c in zip(runs.items(), shades):
        x, y = mean_metric(r, "test_error")
        _, t = mean_metric(r, "time_s")
        _, train = mean_metric(r, "train_loss")
        axes[0].plot(x, y, color=c, label=f"α = {a:g}")
        axes[1].plot(t, y, color=c, label=f"α = {a:g}")
        data[f"alpha={a:g}"] = {"step": x, "time_s": t, "test_error": y, "train_loss": train}
        rows.append(dict(alpha=a, eta_over_eta_c=s["eta"] / eta_c[a]))
    for ax, xl in zip(axes, ("iteration", "training time (s)")):
        ax.set(xlabel=xl, ylabel="test error (relative)")
        ax.legend(ncol=2)
    data = as_recorded({"rows": rows, **data})  # the notes read what the JSON keeps (6 significant digits)
    return fig, data, notes_from(data, s)

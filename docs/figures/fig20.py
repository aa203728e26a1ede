"""Figure 20 — the top-r singular subspace of the penultimate weight barely moves between evaluations (Eq. 20)."""

import numpy as np

from cdln.plotting import PENULTIMATE_FAST, PENULTIMATE_FULL, penultimate_configs, penultimate_runs, plt

TITLE = "Figure 20 — subspace distance r − ‖U_r(t)ᵀU_r(t+1)‖_F² of the penultimate weight (MNIST)"
CAPTION = ("The runs of Figure 1 (DLN and MLP on MNIST). For consecutive evaluations t, t+1: Eq. (20)'s distance "
           "r − ‖U_r(t)ᵀU_r(t+1)‖_F² between the top-r (r = 10) left singular subspaces of the penultimate weight "
           "W(t) (dashed) and of its update W(t) − W(0) (solid). 0 means the same subspace, r = 10 orthogonal ones.")
PAPER = "the subspace distance is small throughout training for every architecture: training happens in an invariant subspace."
FULL = dict(PENULTIMATE_FULL, r=10)
FAST = dict(PENULTIMATE_FAST, r=10)
SIM_RUNS = False  # nonlinear trainings (sim.nonlinear), not sim runs: declared by trainings()
trainings = penultimate_configs  # made on the cluster first by `cdln figures --paper`


def _dist(A, B, r):
    Ua = np.linalg.svd(A)[0][:, :r]
    Ub = np.linalg.svd(B)[0][:, :r]
    return r - np.linalg.norm(Ua.T @ Ub) ** 2


def make(ctx):
    r = ctx.settings["r"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    data, notes = {}, []
    for ax, (arch, res) in zip(axes, penultimate_runs(ctx).items()):
        S = res.snapshots
        steps = np.array(res.steps[1:])
        d_upd = np.array([_dist(S[k] - S[0], S[k + 1] - S[0], r) for k in range(1, len(S) - 1)])
        d_w = np.array([_dist(S[k], S[k + 1], r) for k in range(len(S) - 1)])
        ax.plot(steps[1:], d_upd, "o-", color="#1f4e9c", label="update W(t) − W(0)")
        ax.plot(steps, d_w, "s--", color="#7a7a7a", label="weight W(t)")
        ax.set(title={"linear": "DLN", "mlp": "MLP"}[arch], xlabel="optimizer step", ylabel=f"subspace distance (r = {r})",
               ylim=(-0.2, r))
        ax.legend()
        notes.append(f"{arch}: distance between consecutive top-{r} subspaces of the update: median {np.median(d_upd):.3f}, "
                     f"last {d_upd[-1]:.3f}; of the weight itself: median {np.median(d_w):.3f}")
        data[arch] = {"steps": steps, "update": d_upd, "weight": d_w}
    return fig, data, notes

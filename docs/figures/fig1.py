"""Figure 1 — the penultimate layer's weight update W(t) − W(0) is low-rank, in a DLN and in an MLP (MNIST)."""

import numpy as np

from cdln.plotting import PENULTIMATE_FAST, PENULTIMATE_FULL, penultimate_configs, penultimate_runs, plt

TITLE = "Figure 1 — singular values of the penultimate weight update W(t) − W(0) (MNIST)"
CAPTION = ("A deep linear network (the MLP's layout without ReLUs, orthogonal init; left) and an MLP (ReLU, PyTorch's "
           "uniform init; right) with four 256-wide layers trained on MNIST by SGD (lr 0.01, batch 128, as in the "
           "paper's Appendix A.4). Singular values of the penultimate weight's change from init, W(t) − W(0), at "
           "several points of training (darker = later), log scale.")
PAPER = ("training largely happens in a low-dimensional subspace: only a few singular values of the update grow, "
         "the rest stay small, for DLN, MLP, VGG and ViT-B.")
PAPER_PARTIAL = True  # the gallery's table says 'yes, in part'
PAPER_GAP = "VGG and ViT-B on their image data: not drawn (the DLN and the MLP are)"
FULL = dict(PENULTIMATE_FULL)
FAST = dict(PENULTIMATE_FAST)
SIM_RUNS = False  # nonlinear trainings (sim.nonlinear), not sim runs: declared by trainings()
trainings = penultimate_configs  # made on the cluster first by `cdln figures --paper`


def make(ctx):
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    data, notes = {}, []
    for ax, (arch, res) in zip(axes, penultimate_runs(ctx).items()):
        W0 = res.snapshots[0]
        idx = np.unique(np.linspace(1, len(res.snapshots) - 1, 5).astype(int))
        cmap = plt.get_cmap("Blues")
        svs = []
        for j, k in enumerate(idx):
            s = np.linalg.svd(res.snapshots[k] - W0, compute_uv=False)
            svs.append(s)
            ax.semilogy(np.arange(1, s.size + 1), s, color=cmap(0.35 + 0.65 * j / max(len(idx) - 1, 1)),
                        label=f"step {res.steps[k]}")
        ax.set(title={"linear": "DLN", "mlp": "MLP"}[arch] + f" (test acc. {res.final_acc:.1%})",
               xlabel="index i", ylabel="σ_i(W(t) − W(0))", xscale="log", ylim=(1e-8, None))
        ax.legend()
        s = svs[-1]
        e = np.cumsum(s**2) / np.sum(s**2)
        notes.append(f"{arch}: at the last step the top 10 of {s.size} singular values of the update hold {e[9]:.1%} "
                     f"of its energy; σ_1/σ_11 = {s[0] / s[10]:.1f}")
        data[arch] = {"steps": [res.steps[k] for k in idx], "singular_values": svs}
    return fig, data, notes

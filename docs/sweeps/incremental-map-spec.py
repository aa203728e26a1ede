"""Writes docs/sweeps/incremental-map.toml: the incremental-learning map's `cdln sweep` spec.

Each (d, L, ε) gets its step η = STEP_FRACTION·η_c(σ*_1, L) (sum loss) and a budget of HORIZON × theory's
flow fit time of the smallest mode (in steps), from theory; the spec lists them as one [[zip]] axis, so the
sweep itself is plain `cdln sweep docs/sweeps/incremental-map.toml --out docs/sweeps/incremental-map`.
Run:  python docs/sweeps/incremental-map-spec.py
"""

from pathlib import Path

import theory

D = [20, 50, 100, 200]
DEPTH = [2, 3]
EPS = [0.03, 0.1, 0.3]
RANK = 5
RANK_HAT = [3, 5, 6, 10, 20]          # r̂ − r = −2, 0, 1, 5, 15
SEEDS = 4
STEP_FRACTION = 0.2
HORIZON = 3.0
TARGET_SEED = 0  # the spectrum used for η and the budget: seed 0's (the runs' seeds 0 … SEEDS−1 differ by O(1/√d))


def main():
    z = {k: [] for k in ("d", "depth", "eps", "eta", "steps", "log_every")}
    for d in D:
        sig = theory.authors_target(d, RANK, TARGET_SEED).sigma
        for L in DEPTH:
            eta = STEP_FRACTION * theory.critical_step_size(float(sig[0]), depth=L)
            for e in EPS:
                steps = int(HORIZON * theory.fit_time(float(sig.min()), depth=L, eps=e) / eta) + 20
                for k, v in zip(z, (d, L, e, float(f"{eta:.6g}"), steps, max(1, steps // 400))):
                    z[k].append(v)
    lines = ["# Incremental learning (t_i^comp <= t_i^orig) over (d, r̂ − r, ε, L): written by",
             "# docs/sweeps/incremental-map-spec.py (η and the step budget from theory per (d, L, ε)); do not edit.",
             "# Run with:  cdln sweep docs/sweeps/incremental-map.toml --out docs/sweeps/incremental-map --workers 2",
             "# Drawn by docs/figures/incremental-map.py from docs/sweeps/incremental-map/results.parquet.",
             'store = "../../runs"', "", "[base]", 'problem = "factorization"', 'target = "authors"', f"rank = {RANK}",
             'loss = "sum"', f"seeds = {SEEDS}", "",
             "[[zip]]  # the wide DLN once (its r̂ is unused), Algorithm 1 at each r̂",
             f"model = {['wide'] + ['compressed'] * len(RANK_HAT)}".replace("'", '"'),
             f"rank_hat = {[RANK] + RANK_HAT}", "", "[[zip]]"]
    lines += [f"{k} = {v}" for k, v in z.items()]
    Path(__file__).with_name("incremental-map.toml").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

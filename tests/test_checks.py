"""Bad input: a ValueError naming the argument, the value and the valid range, before any work."""

import numpy as np
import pytest

import theory

S = [1.0, 0.5]
CASES = [
    (theory.compressed_spectrum, dict(sigma_star=S, depth=1, eps=0.1, eta=0.1, steps=5), "depth", r">= 2, got 1"),
    (theory.compressed_spectrum, dict(sigma_star=S, depth=3, eps=0.0, eta=0.1, steps=5), "eps", r"\(0, inf\), got 0.0"),
    (theory.compressed_spectrum, dict(sigma_star=S, depth=3, eps=0.1, eta=-1.0, steps=5), "eta", r"got -1.0"),
    (theory.compressed_spectrum, dict(sigma_star=[1.0, np.nan], depth=3, eps=0.1, eta=0.1, steps=5), "sigma_star", "nan"),
    (theory.compressed_spectrum, dict(sigma_star=[1.0, -2.0], depth=3, eps=0.1, eta=0.1, steps=5), "sigma_star", "-2.0"),
    (theory.compressed_spectrum, dict(sigma_star=S, depth=3, eps=0.1, eta=0.1, steps=5, rank_hat=1), "rank_hat", r">= the number of modes \(2\), got 1"),
    (theory.compressed_spectrum, dict(sigma_star=S, depth=3, eps=0.1, eta=0.1, steps=-1), "steps", "got -1"),
    (theory.compressed_spectrum, dict(sigma_star=S, depth=3, eps=0.1, eta=0.1, steps=5, every=0), "every", "got 0"),
    (theory.compressed_spectrum, dict(sigma_star=S, depth=3, eps=0.1, eta=0.1, steps=5, alpha=0.0), "alpha", "got 0.0"),
    (theory.compressed_spectrum, dict(sigma_star=S, depth=2.5, eps=0.1, eta=0.1, steps=5), "depth", "got 2.5"),
    (theory.flow_spectrum, dict(sigma_star=S, times=[0, 1], depth=3, eps=np.inf), "eps", "inf"),
    (theory.flow_spectrum, dict(sigma_star=S, times=[0, 1], depth=3, eps=0.1, rank_hat=1), "rank_hat", "got 1"),
    (theory.fit_time, dict(sigma_star=S, depth=3, eps=0.1, delta=1.0), "delta", r"\(0, 1\), got 1.0"),
    (theory.fit_time, dict(sigma_star=S, depth=3, eps=0.1, delta=0.0), "delta", "got 0.0"),
    (theory.fit_time, dict(sigma_star=[0.0], depth=3, eps=0.1), "sigma_star", "got 0.0"),
    (theory.critical_step_size, dict(sigma_max=-1.0, depth=3), "sigma_max", "got -1.0"),
    (theory.critical_step_size, dict(sigma_max=1.0, depth=0), "depth", "got 0"),
    (theory.initial_errors, dict(sigma_star=S, shape=4, rank_hat=5, depth=3, eps=0.1), "rank_hat", r"\[1, min\(shape\) = 4\], got 5"),
    (theory.initial_errors, dict(sigma_star=S, shape=4, rank_hat=2, depth=3, eps=0.1, scaling="x"), "scaling", "got 'x'"),
    (theory.convert_step_size, dict(eta=1.0, n=100, frm="avg", to="sum"), "frm", "got 'avg'"),
    (theory.normaliser, dict(problem="completion", shape=10), "n_observed", "got None"),
    (theory.compare_costs, dict(shape=(10, 0), depth=3, rank_hat=2), r"shape\[1\]", "got 0"),
    (theory.authors_target, dict(dim=10, rank=6, seed=0), "rank", r"\[1, min\(dim\)/2 = 5\], got 6"),
]


@pytest.mark.parametrize("fn,kwargs,name,detail", CASES, ids=[f"{c[0].__name__}-{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_names_argument_value_and_range(fn, kwargs, name, detail):
    with pytest.raises(ValueError, match=f"^{name} .*{detail}"):
        fn(**kwargs)


def test_validation_happens_before_work(monkeypatch):
    """A bad argument late in the list still fails before the recurrence loop runs."""
    import theory.recurrences as rec

    def boom(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("work started")

    monkeypatch.setattr(rec, "critical_step_size", boom)
    with pytest.raises(ValueError, match="every"):
        theory.compressed_spectrum(S, depth=3, eps=0.1, eta=0.1, steps=10**9, every=0)

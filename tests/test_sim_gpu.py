"""GPU runs match the CPU (marked `gpu`; skipped where CUDA is absent, i.e. always in CI)."""

import numpy as np
import pytest
import torch

import sim

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

KW = dict(d=50, rank=3, rank_hat=6, eps=0.1, eta=5.0, steps=200, log_every=50, seeds=4)


@pytest.mark.parametrize("problem,model", [("factorization", "wide"), ("factorization", "compressed"),
                                           ("completion", "compressed"), ("sensing", "compressed"),
                                           ("completion", "altmin")])
def test_cuda_float64_matches_cpu(problem, model):
    kw = dict(KW, measurements=400, steps=20 if model == "altmin" else 200)
    a, _ = sim.execute(sim.RunConfig(problem=problem, model=model, device="cpu", **kw))
    b, _ = sim.execute(sim.RunConfig(problem=problem, model=model, device="cuda", **kw))
    # different GEMM kernels, same float64 algebra: agreement to ~1e-10 relative after 200 steps
    for k in a.metrics:
        assert np.allclose(np.stack(a.metrics[k]), np.stack(b.metrics[k]), rtol=1e-9, atol=1e-12), k


def test_cuda_same_seed_same_numbers():
    cfg = sim.RunConfig(problem="completion", model="wide", device="cuda", **KW)
    a, _ = sim.execute(cfg)
    b, _ = sim.execute(cfg)
    for k in a.metrics:
        assert np.array_equal(np.stack(a.metrics[k]), np.stack(b.metrics[k]))


@pytest.mark.parametrize("model", ["compressed", "altmin"])
def test_cuda_sparse_completion_matches_cpu(model):
    """Sparse storage: the torch backend (sampled product, CSR sparse.mm) on CUDA against numba on the CPU."""
    kw = dict(KW, seeds=2, sampling="fixed", storage="sparse", target="authors", observed=0.3,
              steps=20 if model == "altmin" else 200)
    a, _ = sim.execute(sim.RunConfig(problem="completion", model=model, device="cpu", **kw))
    b, _ = sim.execute(sim.RunConfig(problem="completion", model=model, device="cuda", **kw))
    for k in a.metrics:  # reordered float64 sums and the same ARPACK start: agreement to ~1e-10 relative
        assert np.allclose(np.stack(a.metrics[k]), np.stack(b.metrics[k]), rtol=1e-9, atol=1e-12), k

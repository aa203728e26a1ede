r"""Nonlinear networks whose penultimate linear layer is plain, a 3-layer DLN, or a compressed DLN.

Section 2.3 of the paper (SPEC §3): with ρ the ReLU,

.. math:: \psi(x)=W_6\,\rho\big(\underbrace{\widetilde W_5\widetilde W_4\widetilde W_3}_{\text{penultimate}}
          \,\rho(W_2\,\rho(W_1x))\big).

* **original**: the penultimate map is one ``Linear(h, h)``;
* **dln**: three bias-free ``h × h`` factors and one bias (Huh et al.'s linear over-parameterization);
* **cdln**: Algorithm 1 applied to that product, widths ``h → r̂ → r̂ → h`` with r̂ = 4 d_y:
  :math:`\widetilde W_3=\epsilon V^\top`, :math:`\widetilde W_4=\epsilon I_{\hat r}`,
  :math:`\widetilde W_5=\epsilon U`, with V's leading columns the top right singular vectors (those of
  nonzero singular values only, so no LAPACK's null-space choice enters; their signs are still the
  LAPACK's) of
  :math:`M^{\rm corr}=YX^\top\in\mathbb R^{d_y\times h}` (X the layer's inputs at init on a batch of
  training images, Y their one-hot labels) completed by a random orthonormal basis, and U random
  orthonormal (M^corr's left singular vectors live in the label space, whose size d_y ≠ h).
  The outer factors step at α·lr (parameter groups, :func:`param_groups`).

The MLP's widths follow Table 1 exactly: h = 784 gives 1.85 M / 3.08 M / 1.30 M parameters
(Table 1's counts; :func:`param_count` computes them and tests/test_nonlinear.py checks them).
The ViT (patch embedding, pre-norm blocks of multi-head self-attention and MLP) applies the same three
variants to the last linear layer of its last MLP block.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["Penultimate", "MLP", "ViT", "VIT_PRESETS", "VARIANTS", "param_groups", "param_count", "macs_per_example",
           "penultimate_matrix", "orthonormal_completion"]

VARIANTS = ("original", "dln", "cdln")
VIT_PRESETS = {
    "tiny": dict(patch=7, dim=96, depth=2, heads=4, mlp=384),           # CI / CPU (r̂ = 40 still compresses 384 → 96)
    "small": dict(patch=4, dim=192, depth=4, heads=6, mlp=768),
    "paper": dict(patch=4, dim=512, depth=6, heads=8, mlp=3072),       # the paper's ViT (GPU)
}


def orthonormal_completion(lead: torch.Tensor | None, n: int, k: int, gen: torch.Generator) -> torch.Tensor:
    """An n × k matrix with orthonormal columns whose first columns span ``lead`` (n × j, j <= k)."""
    R = torch.randn(n, k, generator=gen, dtype=torch.float64)
    if lead is not None and lead.shape[1]:
        R = torch.cat([lead.double(), R[:, lead.shape[1]:]], 1)
    Q, Rr = torch.linalg.qr(R)
    d = torch.diagonal(Rr).abs()
    if not float(d.min()) > max(n, k) * torch.finfo(torch.float64).eps * float(d.max()):
        raise ValueError(f"lead and the random completion must have full column rank {k}; "
                         "a rank-deficient lead leaves Q's extra columns to the LAPACK")
    # keeps the leading columns' signs (QR is unique up to them); +1 where R_ii >= 0, never 0
    return Q * torch.where(torch.diagonal(Rr) < 0, -1.0, 1.0).to(Q.dtype)



class Penultimate(nn.Module):
    """The penultimate linear map ``d_in → d_out`` in one of the three variants."""

    def __init__(self, d_in: int, d_out: int, variant: str, *, rank_hat: int = 40, eps: float = 1.0,
                 gen: torch.Generator | None = None):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
        self.variant, self.d_in, self.d_out, self.rank_hat, self.eps = variant, d_in, d_out, rank_hat, eps
        if variant == "original":
            self.factors = nn.ModuleList([nn.Linear(d_in, d_out)])
        elif variant == "dln":
            self.factors = nn.ModuleList([nn.Linear(d_in, d_out, bias=False), nn.Linear(d_out, d_out, bias=False),
                                          nn.Linear(d_out, d_out, bias=True)])
        else:
            if not 1 <= rank_hat <= min(d_in, d_out):
                raise ValueError(f"rank_hat must be in [1, min(d_in, d_out) = {min(d_in, d_out)}], got {rank_hat}")
            self.factors = nn.ModuleList([nn.Linear(d_in, rank_hat, bias=False),
                                          nn.Linear(rank_hat, rank_hat, bias=False), nn.Linear(rank_hat, d_out)])
            self.spectral_init(None, gen=gen)

    @torch.no_grad()
    def spectral_init(self, m_corr: torch.Tensor | None, *, gen: torch.Generator | None = None) -> None:
        """Algorithm 1: W̃_3 = ε Vᵀ (V from M^corr's right singular vectors, completed at random),
        W̃_4 = ε I, W̃_5 = ε U (random orthonormal)."""
        if self.variant != "cdln":
            return
        gen = gen if gen is not None else torch.Generator().manual_seed(0)
        lead = None
        if m_corr is not None:
            _, S, Vh = torch.linalg.svd(m_corr.double(), full_matrices=False)
            # only singular vectors of nonzero singular values (NumPy's matrix_rank cutoff): those of
            # a zero one (a class absent from the batch, rank X < d_y) are the LAPACK's arbitrary choice
            cut = max(m_corr.shape) * torch.finfo(torch.float64).eps * float(S[0]) if S.numel() else 0.0
            rank = int((S > cut).sum()) if S.numel() and float(S[0]) > 0 else 0
            lead = Vh[: min(self.rank_hat, rank)].T
            # a singular vector's sign is the LAPACK's choice, and W̃_5 is drawn independently of M^corr's
            # left vectors, so the sign would change the network: fix it (largest-magnitude entry > 0)
            pick = lead.abs().argmax(dim=0)
            lead = lead * torch.where(lead[pick, torch.arange(lead.shape[1])] < 0, -1.0, 1.0).to(lead.dtype)
        V = orthonormal_completion(lead, self.d_in, self.rank_hat, gen)
        U = orthonormal_completion(None, self.d_out, self.rank_hat, gen)
        W3, W4, W5 = self.factors
        dt = W3.weight.dtype
        W3.weight.copy_((self.eps * V.T).to(dt))
        W4.weight.copy_((self.eps * torch.eye(self.rank_hat, dtype=torch.float64)).to(dt))
        W5.weight.copy_((self.eps * U).to(dt))
        W5.bias.zero_()

    def forward(self, x):
        for f in self.factors:
            x = f(x)
        return x

    def outer_parameters(self):
        """The outer factors W̃_3, W̃_5 (stepped at α·lr in Algorithm 1); empty unless cdln."""
        return [self.factors[0].weight, self.factors[2].weight] if self.variant == "cdln" else []


@torch.no_grad()
def penultimate_matrix(p: Penultimate) -> torch.Tensor:
    """The end-to-end penultimate weight W̃_5 W̃_4 W̃_3 (d_out × d_in)."""
    W = p.factors[0].weight.detach().clone()  # a copy: a snapshot must not follow later steps
    for f in p.factors[1:]:
        W = f.weight @ W
    return W


class MLP(nn.Module):
    """x → W_1 → ρ → W_2 → ρ → penultimate → ρ → W_6 (Table 1's MLP with h = width).

    ``linear=True`` drops every ρ and initialises each layer orthogonally: the deep linear network
    classifier of Fig. 1 (same widths)."""

    def __init__(self, in_dim: int, classes: int, *, width: int = 784, variant: str = "original",
                 rank_hat: int = 40, eps: float = 1.0, gen=None, linear: bool = False):
        super().__init__()
        act = nn.Identity if linear else nn.ReLU
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(in_dim, width), act(), nn.Linear(width, width), act())
        self.penultimate = Penultimate(width, width, variant, rank_hat=rank_hat, eps=eps, gen=gen)
        self.act = act()
        self.head = nn.Linear(width, classes)
        if linear:
            with torch.no_grad():
                for m in self.modules():
                    if isinstance(m, nn.Linear) and not (variant == "cdln" and m in self.penultimate.factors):
                        m.weight.copy_(torch.nn.init.orthogonal_(torch.empty_like(m.weight), generator=gen))
                        if m.bias is not None:
                            m.bias.zero_()

    def features(self, x):
        """The penultimate layer's inputs."""
        return self.body(x)

    def forward(self, x):
        return self.head(self.act(self.penultimate(self.body(x))))


class _Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.qkv, self.proj = heads, nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def forward(self, x):
        B, N, D = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        y = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        return self.proj(y.transpose(1, 2).reshape(B, N, D))


class _Block(nn.Module):
    def __init__(self, dim, heads, mlp, penultimate: Penultimate | None):
        super().__init__()
        self.n1, self.attn, self.n2 = nn.LayerNorm(dim), _Attention(dim, heads), nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, mlp)
        self.fc2 = penultimate if penultimate is not None else nn.Linear(mlp, dim)

    def forward(self, x):
        x = x + self.attn(self.n1(x))
        return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.n2(x))))

    def mlp_hidden(self, x):
        """The inputs of fc2 (the compressed layer's inputs), per token."""
        x = x + self.attn(self.n1(x))
        return torch.nn.functional.gelu(self.fc1(self.n2(x)))


class ViT(nn.Module):
    """A small ViT (Dosovitskiy et al.): patch embedding, class token, pre-norm blocks; the last block's
    fc2 (mlp → dim) is the penultimate layer the three variants change."""

    def __init__(self, image_shape, classes: int, *, preset: str = "tiny", variant: str = "original",
                 rank_hat: int = 40, eps: float = 1.0, gen=None):
        super().__init__()
        if preset not in VIT_PRESETS:
            raise ValueError(f"vit preset must be one of {', '.join(VIT_PRESETS)}; got {preset!r}")
        c = VIT_PRESETS[preset]
        C, H, W = image_shape
        p, dim = c["patch"], c["dim"]
        if H % p or W % p:
            raise ValueError(f"image size {H}×{W} is not divisible by the patch size {p} of preset {preset!r}")
        self.cfg, self.n_tokens = c, (H // p) * (W // p) + 1
        self.embed = nn.Conv2d(C, dim, p, stride=p)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(0.02 * torch.randn(1, self.n_tokens, dim, generator=gen))
        pen = Penultimate(c["mlp"], dim, variant, rank_hat=rank_hat, eps=eps, gen=gen)
        self.blocks = nn.ModuleList([_Block(dim, c["heads"], c["mlp"], pen if i == c["depth"] - 1 else None)
                                     for i in range(c["depth"])])
        self.penultimate = pen
        self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, classes)

    def tokens(self, x):
        t = self.embed(x).flatten(2).transpose(1, 2)
        return torch.cat([self.cls.expand(len(x), -1, -1), t], 1) + self.pos

    def features(self, x):
        """The penultimate layer's inputs at the class token (for M^corr)."""
        t = self.tokens(x)
        for b in self.blocks[:-1]:
            t = b(t)
        return self.blocks[-1].mlp_hidden(t)[:, 0]

    def forward(self, x):
        t = self.tokens(x)
        for b in self.blocks:
            t = b(t)
        return self.head(self.norm(t)[:, 0])


def param_groups(model: nn.Module, lr: float, alpha: float):
    """Two groups: the compressed layer's outer factors at α·lr, everything else at lr."""
    outer = list(model.penultimate.outer_parameters())
    ids = {id(p) for p in outer}
    rest = [p for p in model.parameters() if id(p) not in ids]
    return [{"params": rest, "lr": lr}] + ([{"params": outer, "lr": alpha * lr}] if outer else [])


def param_count(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def macs_per_example(model: nn.Module, image_shape) -> int:
    """Multiply–accumulates of one forward pass, counted from the layer shapes (Linear, Conv2d, and the
    two attention products QKᵀ and AV)."""
    total = [0]
    hooks = []

    def lin(m, inp, out):
        total[0] += (inp[0].numel() // m.in_features) * m.in_features * m.out_features

    def conv(m, inp, out):
        total[0] += out.numel() * (m.in_channels // m.groups) * math.prod(m.kernel_size)

    def attn(m, inp, out):
        B, N, D = inp[0].shape
        total[0] += 2 * B * N * N * D

    for m in model.modules():
        if isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(lin))
        elif isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv))
        elif isinstance(m, _Attention):
            hooks.append(m.register_forward_hook(attn))
    try:
        with torch.no_grad():
            p = next(model.parameters())
            model(torch.zeros((1, *image_shape), dtype=p.dtype, device=p.device))
    finally:
        for h in hooks:
            h.remove()
    return int(total[0])

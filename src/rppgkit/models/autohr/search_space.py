"""AutoHR's search space: candidate operations, cells, the backbone, the supernet and the rule
that turns architecture weights into a genotype (DARTS, Liu et al. 2019, as AutoHR uses it).

Candidate operations on every edge (`rppgkit.models.autohr.genotype.OPS`), all keeping the
width and the clip's size:

- ``tdc_0.2``, ``tdc_0.5``, ``tdc_0.8``: temporal difference convolution at three thetas, the
  paper's new operation, at a low, middle and high share of the temporal difference (theta =
  0 would be the plain convolution below, already a candidate);
- ``conv_3x3x3``: the plain 3-D convolution, the baseline TDC must beat on each edge;
- ``conv_1x3x3_3x1x1``: a spatial 1x3x3 then a temporal 3x1x1 convolution (R(2+1)D, the
  shared `STConv` block), the factorised alternative methods.md lists as "1x3x3 / 3x1x1";
- ``skip``: identity, so the search can make a cell shallower;
- ``zero``: no connection; it competes in the softmax and is never kept (DARTS);
- ``max_pool``, ``avg_pool``: 3x3x3 pooling at stride 1, parameter-free smoothing.

Each parametric operation is ReLU, convolution, BatchNorm (DARTS' order, so edges sum signed,
normalised features). In the supernet the norms have no affine parameters, as in DARTS: a
learnt scale would compete with the architecture weights.

Backbone (PhysNet-like, every frame kept so the head gives one value per frame): a 1x5x5 stem
with a 1x2x2 max-pool, four blocks of one cell each with a 1x2x2 spatial max-pool before
blocks 2-4, then a spatial mean and a 1x1x1 convolution. A cell reads the outputs of the two
blocks before it; the older one is pooled to the newer one's size.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch
from torch import nn

from rppgkit.models.autohr.genotype import (
    BLOCKS,
    INPUTS,
    KEPT,
    OPS,
    TDC_THETAS,
    ZERO,
    CellGenotype,
    Edge,
    Genotype,
    tdc_theta,
)
from rppgkit.models.blocks import TDC, STConv, conv_bn_relu

NODES = 3  # intermediate nodes of a cell: B1, B2, B3 in the paper
POOL = (1, 2, 2)  # spatial downsampling of the stem and between blocks (rounding up: a
# crop of any size passes)


class Zero(nn.Module):
    """The ``zero`` operation: no connection (zeros of the input's shape)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class AvgPool(nn.Module):
    """3x3x3 mean over the neighbours inside the clip, at stride 1 (`nn.AvgPool3d` refuses a
    clip smaller than its kernel even where padding would cover it)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = (1,) * 6
        total = nn.functional.avg_pool3d(nn.functional.pad(x, pad), 3, stride=1)
        inside = nn.functional.pad(torch.ones_like(x[:1, :1]), pad)
        return total / nn.functional.avg_pool3d(inside, 3, stride=1)


def _relu_conv_bn(conv: nn.Module, width: int, affine: bool) -> nn.Sequential:
    """ReLU, `conv`, BatchNorm: DARTS' order for every parametric operation."""
    return nn.Sequential(nn.ReLU(), conv, nn.BatchNorm3d(width, affine=affine))


def _tdc(width: int, affine: bool, theta: float) -> nn.Module:
    """The TDC candidate at `theta` (theta 0: the plain 3x3x3 convolution)."""
    return _relu_conv_bn(TDC(width, width, theta=theta), width, affine)


BUILDERS: dict[str, Callable[[int, bool], nn.Module]] = {
    "zero": lambda width, affine: Zero(),
    "skip": lambda width, affine: nn.Identity(),
    "max_pool": lambda width, affine: nn.MaxPool3d(3, stride=1, padding=1),
    "avg_pool": lambda width, affine: AvgPool(),
    "conv_3x3x3": functools.partial(_tdc, theta=0.0),  # TDC at theta 0 is the plain convolution
    "conv_1x3x3_3x1x1": lambda width, affine: _relu_conv_bn(STConv(width, width), width, affine),
    **{f"tdc_{theta}": functools.partial(_tdc, theta=theta) for theta in TDC_THETAS},
}


def build_op(name: str, width: int, affine: bool) -> nn.Module:
    """Operation `name` at `width` channels (`affine`: learnt norm scales): a candidate, or TDC
    at any theta (``tdc_0.3``) for a derived cell."""
    if name in BUILDERS:
        return BUILDERS[name](width, affine)
    theta = tdc_theta(name)
    if theta is None:
        raise ValueError(f"unknown operation {name!r}")
    return _tdc(width, affine, theta)


class MixedOp(nn.Module):
    """One edge of the supernet: every candidate, weighted by the softmax of its alphas."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.ops = nn.ModuleList(build_op(name, width, affine=False) for name in OPS)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``sum_o weights[o] * o(x)``; `weights` ``[len(OPS)]`` sum to one."""
        return sum(w * op(x) for w, op in zip(weights, self.ops))


def cell_edges(nodes: int = NODES) -> tuple[tuple[int, int], ...]:
    """Every edge of a search cell as ``(source, target)``, in the order of the alphas: each
    intermediate node from every node before it, then the output node from each
    intermediate node."""
    inner = [(s, t) for t in range(INPUTS, INPUTS + nodes) for s in range(t)]
    return (*inner, *((s, INPUTS + nodes) for s in range(INPUTS, INPUTS + nodes)))


def cell_inputs(width: int, pool_first: bool) -> tuple[nn.Sequential, nn.Sequential]:
    """The 1x1x1 ReLU-conv-BN layers that bring a cell's two inputs to its width; the first
    (the older block's output) is pooled to the second's size when a pool lies between them."""
    older = [nn.MaxPool3d(POOL, ceil_mode=True)] if pool_first else []
    return (
        nn.Sequential(*older, *_relu_conv_bn(nn.Conv3d(width, width, 1, bias=False), width, True)),
        _relu_conv_bn(nn.Conv3d(width, width, 1, bias=False), width, True),
    )


class SearchCell(nn.Module):
    """A cell whose every edge is a `MixedOp`; its output node sums its incoming edges."""

    def __init__(self, width: int, nodes: int, pool_first: bool) -> None:
        super().__init__()
        self.pre0, self.pre1 = cell_inputs(width, pool_first)
        self.wiring = cell_edges(nodes)
        self.edges = nn.ModuleList(MixedOp(width) for _ in self.wiring)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """`weights`: ``[edges, len(OPS)]``, the softmax of this cell's alphas."""
        states = [self.pre0(s0), self.pre1(s1)]
        for target in range(INPUTS, self.wiring[-1][1] + 1):
            states.append(
                sum(
                    edge(states[s], w)
                    for (s, t), edge, w in zip(self.wiring, self.edges, weights)
                    if t == target
                )
            )
        return states[-1]


Cell = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Backbone(nn.Module):
    """Stem, `BLOCKS` cells with spatial pooling between them, head: clip ``[B, 3, T, H, W]``
    -> pulse ``[B, T]``. Subclasses build ``self.cells`` and call `run`."""

    def __init__(self, width: int, in_channels: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            conv_bn_relu(in_channels, width, (1, 5, 5)), nn.MaxPool3d(POOL, ceil_mode=True)
        )
        self.pool = nn.MaxPool3d(POOL, ceil_mode=True)
        self.head = nn.Conv3d(width, 1, 1)

    def run(self, x: torch.Tensor, cells: Sequence[Cell]) -> torch.Tensor:
        """The pulse, each block's cell given as a function of its two inputs."""
        s0 = s1 = self.stem(x)
        for block, cell in enumerate(cells):
            if block:
                s1 = self.pool(s1)
            s0, s1 = s1, cell(s0, s1)
        return self.head(s1.mean(dim=(3, 4), keepdim=True)).flatten(1)


class SuperNet(Backbone):
    """The search network: every edge a mixture of every candidate. Its architecture weights
    (alphas, ``[cells, edges, len(OPS)]``) are not its parameters: the search task owns them and
    passes them in, so weights and alphas have their own optimisers and checkpoint entries.

    Parameters
    ----------
    width
        Channels of the stem and of every cell.
    nodes
        Intermediate nodes per cell (the paper's 3).
    shared
        One set of alphas for the four blocks (the NAS convention, the paper's default) or
        one per block (the paper's ablation).
    in_channels
        Channels of the clip.
    """

    def __init__(
        self, width: int = 16, nodes: int = NODES, shared: bool = True, in_channels: int = 3
    ) -> None:
        super().__init__(width, in_channels)
        self.cells = nn.ModuleList(SearchCell(width, nodes, block > 0) for block in range(BLOCKS))
        self.alpha_shape = (1 if shared else BLOCKS, len(cell_edges(nodes)), len(OPS))

    def initial_alphas(self) -> torch.Tensor:
        """Alphas to start a search from: near zero (almost uniform mixtures), as in DARTS."""
        return 1e-3 * torch.randn(self.alpha_shape)

    def forward(self, x: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(alphas, dim=-1)
        cells = [
            functools.partial(cell, weights=weights[i % len(weights)])
            for i, cell in enumerate(self.cells)
        ]
        return self.run(x, cells)


def derive(alphas: torch.Tensor) -> Genotype:
    """The discrete architecture that alphas ``[cells, edges, len(OPS)]`` choose (AutoHR's
    rule, DARTS'): on each edge the strongest operation other than ``zero`` (by softmax
    weight); each intermediate node keeps its `KEPT` strongest incoming edges, the output node
    its single strongest one."""
    nodes = nodes_of(alphas.shape[1])
    wiring = cell_edges(nodes)
    weights = torch.softmax(alphas.detach().float(), dim=-1).cpu()
    keep = [i for i, name in enumerate(OPS) if name != ZERO]
    cells = []
    for cell in weights:
        strength, best = cell[:, keep].max(dim=-1)
        chosen = [
            _strongest(wiring, strength, best, keep, target, KEPT if target < nodes + INPUTS else 1)
            for target in range(INPUTS, INPUTS + nodes + 1)
        ]
        cells.append(CellGenotype(tuple(chosen[:-1]), chosen[-1][0]))
    return Genotype(tuple(cells))


def _strongest(
    wiring: Sequence[tuple[int, int]],
    strength: torch.Tensor,
    best: torch.Tensor,
    keep: list[int],
    target: int,
    count: int,
) -> tuple[Edge, ...]:
    """The `count` strongest edges into `target`, in the order of their sources."""
    into = [i for i, (_, t) in enumerate(wiring) if t == target]
    top = sorted(sorted(into, key=lambda i: -float(strength[i]))[:count])
    return tuple(Edge(wiring[i][0], OPS[keep[int(best[i])]]) for i in top)


def nodes_of(edges: int) -> int:
    """The intermediate-node count of a cell with `edges` edges (`cell_edges`)."""
    nodes = 1
    while len(cell_edges(nodes)) < edges:
        nodes += 1
    if len(cell_edges(nodes)) != edges:
        raise ValueError(f"no cell has {edges} edges; alphas must come from a SuperNet")
    return nodes

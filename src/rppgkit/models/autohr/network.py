"""AutoHR's derived network: the searched cells, discrete, on the search's backbone; the network
that is retrained from scratch and reads the pulse."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rppgkit.models.autohr.genotype import BLOCKS, INPUTS, CellGenotype, Genotype
from rppgkit.models.autohr.search_space import Backbone, build_op, cell_inputs


class DerivedCell(nn.Module):
    """One derived cell: each kept edge one operation; a node sums its incoming edges. Only the
    edges the output depends on are built (a dead node costs nothing)."""

    def __init__(self, cell: CellGenotype, width: int, pool_first: bool) -> None:
        super().__init__()
        self.pre0, self.pre1 = cell_inputs(width, pool_first)
        live = cell.live()
        self.wiring = tuple((target, edge.source) for target, edge in live)
        self.ops = nn.ModuleList(build_op(edge.op, width, affine=True) for _, edge in live)
        self.out = INPUTS + cell.nodes

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states: dict[int, torch.Tensor] = {0: self.pre0(s0), 1: self.pre1(s1)}
        for (target, source), op in zip(self.wiring, self.ops):
            y = op(states[source])
            states[target] = states[target] + y if target in states else y
        return states[self.out]


class DerivedNet(Backbone):
    """Clip ``[B, 3, T, H, W]`` -> pulse ``[B, T]`` through the cells a genotype describes.

    Parameters
    ----------
    genotype
        The searched architecture: a `Genotype` or its dict form (``genotype.yaml`` as read by
        YAML; the form a config's ``model.options.genotype`` and a checkpoint hold).
    width
        Channels of the stem and of every cell.
    in_channels
        Channels of the clip.
    """

    def __init__(
        self, genotype: dict[str, Any] | Genotype, width: int = 64, in_channels: int = 3
    ) -> None:
        super().__init__(width, in_channels)
        found = genotype if isinstance(genotype, Genotype) else Genotype.from_dict(genotype)
        self.cells = nn.ModuleList(
            DerivedCell(found.cell(block), width, block > 0) for block in range(BLOCKS)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x, self.cells)

"""AutoHR's searched architecture as data: which operation joins which nodes of a cell.

A cell is a small DAG. Its nodes are numbered: 0 and 1 are its inputs (the outputs of the cell
two blocks back and of the previous one; both are the stem for the first block), ``2 .. N+1``
its N intermediate nodes (B1..B3 in the paper, N = 3), and ``N+2`` its output. A derived cell
keeps two incoming edges per intermediate node and one for the output node, each with one
operation, as AutoHR's derivation rule leaves it.

The genotype is plain data, free of PyTorch, so a config can carry it as a model option and a
checkpoint describes its network without any file beside it. Its YAML form, which
`rppgkit search` writes as ``genotype.yaml``::

    cells:
    - intermediate:
      - - {source: 1, op: tdc_0.5}
        - {source: 0, op: conv_3x3x3}
      - ...
      output: {source: 4, op: tdc_0.8}

One cell means one architecture shared by the four blocks; four cells, one per block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

# candidate operations of every edge (rppgkit.models.autohr.search_space builds them)
TDC_THETAS = (0.2, 0.5, 0.8)
OPS = (
    "zero",
    "skip",
    "max_pool",
    "avg_pool",
    "conv_3x3x3",
    "conv_1x3x3_3x1x1",
    *(f"tdc_{theta}" for theta in TDC_THETAS),
)
ZERO = "zero"
TDC_PREFIX = "tdc_"  # a derived cell may hold TDC at any theta in [0, 1] (the theta ablation)
BLOCKS = 4  # cells of the backbone, one per block
INPUTS = 2  # input nodes of a cell
KEPT = 2  # incoming edges an intermediate node keeps (the output node keeps one)


@dataclass(frozen=True)
class Edge:
    """One kept edge: the node it reads and the operation applied on the way."""

    source: int
    op: str


@dataclass(frozen=True)
class CellGenotype:
    """One derived cell: the `KEPT` incoming edges of each intermediate node, in node order,
    and the single edge into the output node."""

    intermediate: tuple[tuple[Edge, ...], ...]
    output: Edge

    @property
    def nodes(self) -> int:
        """Number of intermediate nodes."""
        return len(self.intermediate)

    def edges(self) -> list[tuple[int, Edge]]:
        """Every kept edge as ``(target node, edge)``, intermediate nodes first, in order."""
        inner = [(INPUTS + i, e) for i, node in enumerate(self.intermediate) for e in node]
        return [*inner, (INPUTS + self.nodes, self.output)]

    def live(self) -> list[tuple[int, Edge]]:
        """The kept edges that the output depends on (a node that no path leads from to the
        output is dead: the derived network need not compute it)."""
        needed = {INPUTS + self.nodes}
        for target, edge in reversed(self.edges()):
            if target in needed:
                needed.add(edge.source)
        return [(t, e) for t, e in self.edges() if t in needed]


@dataclass(frozen=True)
class Genotype:
    """The derived architecture: one cell shared by every block, or one cell per block."""

    cells: tuple[CellGenotype, ...]

    def cell(self, block: int) -> CellGenotype:
        """The cell of block `block` (0-based)."""
        return self.cells[block % len(self.cells)]

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and dicts (the model option a config or checkpoint holds)."""
        return {"cells": [_cell_dict(c) for c in self.cells]}

    @classmethod
    def from_dict(cls, data: Any) -> Genotype:
        """A checked genotype from `to_dict`'s form; ValueError says what is wrong."""
        cells = data.get("cells") if isinstance(data, dict) else None
        if not isinstance(cells, list) or len(cells) not in (1, BLOCKS):
            raise ValueError(
                f"a genotype is a mapping with 'cells': a list of 1 (shared) or {BLOCKS} cells"
            )
        return cls(tuple(_cell(c, i) for i, c in enumerate(cells)))

    def to_yaml(self) -> str:
        """The genotype as YAML text (``genotype.yaml``)."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)

    @classmethod
    def from_yaml(cls, text: str) -> Genotype:
        """The genotype that `to_yaml` wrote."""
        return cls.from_dict(yaml.safe_load(text))


def _cell_dict(cell: CellGenotype) -> dict[str, Any]:
    """One cell as plain lists and dicts."""

    def edge(e: Edge) -> dict[str, Any]:
        return {"source": e.source, "op": e.op}

    return {
        "intermediate": [[edge(e) for e in node] for node in cell.intermediate],
        "output": edge(cell.output),
    }


def _cell(data: Any, index: int) -> CellGenotype:
    """One cell read from its dict form; each edge checked against the nodes before it."""
    where = f"genotype cell {index}"
    if not isinstance(data, dict) or set(data) != {"intermediate", "output"}:
        raise ValueError(f"{where} must be a mapping of 'intermediate' and 'output'")
    nodes = data["intermediate"]
    if not isinstance(nodes, list) or not nodes:
        raise ValueError(f"{where}: 'intermediate' must be a list of nodes")
    intermediate = []
    for i, node in enumerate(nodes):
        if not isinstance(node, list) or len(node) != KEPT:
            raise ValueError(f"{where}, node {INPUTS + i}: needs {KEPT} incoming edges")
        sources = range(INPUTS + i)
        intermediate.append(tuple(_edge(e, sources, f"{where}, node {INPUTS + i}") for e in node))
    output = _edge(data["output"], range(INPUTS, INPUTS + len(nodes)), f"{where}, output")
    return CellGenotype(tuple(intermediate), output)


def _edge(data: Any, sources: range, where: str) -> Edge:
    """One edge, its source among `sources` and its operation a known, non-zero one."""
    if not isinstance(data, dict) or set(data) != {"source", "op"}:
        raise ValueError(f"{where}: an edge is a mapping of 'source' and 'op'")
    source, op = data["source"], data["op"]
    if isinstance(source, bool) or not isinstance(source, int) or source not in sources:
        raise ValueError(
            f"{where}: source must be a node from {sources.start} to {sources.stop - 1}, "
            f"got {source!r}"
        )
    if (op not in OPS or op == ZERO) and tdc_theta(op) is None:
        known = ", ".join(o for o in OPS if o != ZERO)
        raise ValueError(
            f"{where}: unknown operation {op!r}; choose one of: {known}, or tdc_<theta> with "
            "theta in [0, 1]"
        )
    return Edge(source, op)


def tdc_theta(op: Any) -> float | None:
    """The theta of a ``tdc_<theta>`` operation name with theta in [0, 1], else None."""
    if not isinstance(op, str) or not op.startswith(TDC_PREFIX):
        return None
    try:
        theta = float(op[len(TDC_PREFIX) :])
    except ValueError:
        return None
    return theta if 0.0 <= theta <= 1.0 else None

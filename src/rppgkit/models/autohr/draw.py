"""A drawing of derived cells: each cell a DAG, its edges labelled with their operations, the
nodes that the output does not depend on greyed out."""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

from rppgkit.models.autohr.genotype import INPUTS, CellGenotype, Genotype

LIVE, DEAD = "black", "0.7"
COLUMN = 1.5  # horizontal distance between successive nodes


def cells_figure(genotype: Genotype) -> Figure:
    """One panel per cell of `genotype` (one when the blocks share it)."""
    count = len(genotype.cells)
    fig = Figure(figsize=(7.5, 3.2 * count), layout="constrained")
    for i, (ax, cell) in enumerate(
        zip(fig.subplots(count, 1, squeeze=False)[:, 0], genotype.cells)
    ):
        title = "cell of every block" if count == 1 else f"cell of block {i + 1}"
        _draw_cell(ax, cell, title)
    return fig


def node_positions(cell: CellGenotype) -> dict[int, tuple[float, float]]:
    """Where each node sits: the inputs on the left, intermediate nodes zig-zagging to the
    right, the output last."""
    spots = {0: (0.0, 1.0), 1: (0.0, -1.0)}
    for i in range(cell.nodes):
        spots[INPUTS + i] = (COLUMN * (i + 1), 0.9 if i % 2 == 0 else -0.9)
    spots[INPUTS + cell.nodes] = (COLUMN * (cell.nodes + 1), 0.0)
    return spots


def node_names(cell: CellGenotype) -> dict[int, str]:
    """Node labels: the two inputs (outputs of the blocks two back and one back), B1.., out."""
    names = {0: "c[k-2]", 1: "c[k-1]", INPUTS + cell.nodes: "out"}
    return names | {INPUTS + i: f"B{i + 1}" for i in range(cell.nodes)}


def _draw_cell(ax: Axes, cell: CellGenotype, title: str) -> None:
    """One cell's DAG on `ax`: live edges and nodes in black, dead ones in grey."""
    spots, names = node_positions(cell), node_names(cell)
    live = set(cell.live())
    used = {INPUTS + cell.nodes} | {n for t, e in live for n in (t, e.source)}
    for target, edge in sorted(cell.edges(), key=lambda te: te in live):  # live ones on top
        colour = LIVE if (target, edge) in live else DEAD
        _draw_edge(ax, spots[edge.source], spots[target], edge.op, colour)
    for node, (x, y) in spots.items():
        colour = LIVE if node in used else DEAD
        box = {"boxstyle": "circle", "fc": "#e8f0fa", "ec": colour}
        ax.text(x, y, names[node], ha="center", va="center", fontsize=9, color=colour, bbox=box)
    ax.set_xlim(-0.6, COLUMN * (cell.nodes + 1) + 0.6)
    ax.set_ylim(-1.6, 1.6)
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)


def _draw_edge(
    ax: Axes, start: tuple[float, float], end: tuple[float, float], op: str, colour: str
) -> None:
    """A bent arrow from `start` to `end` (the longer, the more bent, so that edges spanning
    several nodes part from the short ones), its operation written at the bend's middle."""
    (x0, y0), (x1, y1) = start, end
    bend = 0.1 + 0.06 * abs(x1 - x0) / COLUMN
    arrow = FancyArrowPatch(
        start,
        end,
        arrowstyle="-|>",
        mutation_scale=12,
        connectionstyle=f"arc3,rad={bend}",
        shrinkA=14,
        shrinkB=14,
        color=colour,
    )
    ax.add_patch(arrow)
    # the middle of matplotlib's arc3 curve: half-way to its control point (axes near 1:1)
    middle = ((x0 + x1) / 2 + bend * (y1 - y0) / 2, (y0 + y1) / 2 - bend * (x1 - x0) / 2)
    box = {"boxstyle": "round", "fc": "white", "ec": "none"}
    ax.text(*middle, op, fontsize=7, color=colour, ha="center", va="center", bbox=box)

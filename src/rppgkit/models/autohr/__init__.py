"""Seed 003: AutoHR (Yu et al., IEEE SPL 2020) -- a differentiable architecture search over
cells with temporal difference convolution, then the derived network retrained on the hybrid
loss with cutout and rate resampling.

``autohr`` is the derived network (its genotype a model option) and its retraining task; the
search is the network ``autohr-supernet`` with the task ``autohr-search``, run by
``rppgkit search`` (`rppgkit.models.autohr.search.search`).
"""

from rppgkit.models.method import NETWORKS, TASKS, Method, register_method

register_method(
    Method(
        name="autohr",
        network="rppgkit.models.autohr.network:DerivedNet",
        task="rppgkit.models.autohr.task:AutoHRTask",
        description="AutoHR searched 3-D CNN with TDC (Yu et al., IEEE SPL 2020)",
        weights="autohr-synthetic.pt",
    )
)
NETWORKS.add("autohr-supernet", "rppgkit.models.autohr.search_space:SuperNet")
TASKS.add("autohr-search", "rppgkit.models.autohr.task:AutoHRSearchTask")

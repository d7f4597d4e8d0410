"""PhysNet (Yu et al., BMVC 2019): a 3-D CNN from a face clip to its pulse, trained supervised."""

from rppgkit.models.method import Method, register_method

register_method(
    Method(
        name="physnet",
        network="rppgkit.models.physnet.network:PhysNet",
        task="rppgkit.models.physnet.task:PhysNetTask",
        description="PhysNet 3-D CNN (Yu et al., BMVC 2019)",
        weights="physnet-synthetic.pt",
        roles=frozenset({"reader", "editor"}),
    )
)

"""PhysNet: the network and its training recipe."""

from rppgkit.models.physnet.network import PhysNet
from rppgkit.models.physnet.recipe import PhysNetRecipe

__all__ = ["PhysNet", "PhysNetRecipe"]

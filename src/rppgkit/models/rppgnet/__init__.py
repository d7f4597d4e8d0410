"""rPPGNet (seed 000): the network, its loss and its training recipe."""

from rppgkit.models.rppgnet.loss import rppgnet_loss
from rppgkit.models.rppgnet.network import RPPGNet, RPPGNetOutput, STConv, skin_attention
from rppgkit.models.rppgnet.recipe import RPPGNetRecipe

__all__ = ["RPPGNet", "RPPGNetOutput", "RPPGNetRecipe", "STConv", "rppgnet_loss", "skin_attention"]

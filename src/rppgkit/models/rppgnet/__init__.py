"""rPPGNet (seed 000): the network and its loss."""

from rppgkit.models.rppgnet.loss import rppgnet_loss
from rppgkit.models.rppgnet.network import RPPGNet, RPPGNetOutput, STConv, skin_attention

__all__ = ["RPPGNet", "RPPGNetOutput", "STConv", "rppgnet_loss", "skin_attention"]

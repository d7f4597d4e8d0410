"""Seed 000: rPPGNet and STVEN for highly compressed video -- the networks, their losses and
the three training stages (rPPGNet, STVEN, joint)."""

from rppgkit.models.rppgnet.loss import perceptual_loss, rppgnet_loss, stven_loss
from rppgkit.models.rppgnet.network import RPPGNet, RPPGNetOutput, STConv, skin_attention
from rppgkit.models.rppgnet.recipe import JointRecipe, RPPGNetRecipe, STVENRecipe
from rppgkit.models.rppgnet.stven import STVEN, EnhancedRPPGNet

__all__ = [
    "STVEN",
    "EnhancedRPPGNet",
    "JointRecipe",
    "RPPGNet",
    "RPPGNetOutput",
    "RPPGNetRecipe",
    "STConv",
    "STVENRecipe",
    "perceptual_loss",
    "rppgnet_loss",
    "skin_attention",
    "stven_loss",
]

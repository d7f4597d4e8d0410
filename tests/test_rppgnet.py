"""rPPGNet: shapes of every output, six heads of their own, the attention, and the loss terms."""

from __future__ import annotations

import pytest
import torch

from rppgkit.models.blocks import STConv
from rppgkit.models.rppgnet.loss import rppgnet_loss
from rppgkit.models.rppgnet.network import RPPGNet, skin_attention


def test_stconv_width_matches_a_full_3d_convolution() -> None:
    block = STConv(16, 32, 3)
    mid = block[0].out_channels
    assert mid == (27 * 16 * 32) // (9 * 16 + 3 * 32)
    assert block(torch.randn(1, 16, 4, 8, 8)).shape == (1, 32, 4, 8, 8)


def test_outputs_and_heads() -> None:
    net = RPPGNet(width=8)
    out = net(torch.randn(2, 3, 16, 64, 64))
    assert out.signal.shape == out.auxiliary.shape == (2, 16)
    assert out.partitions.shape == (2, 4, 16)
    assert out.skin.shape == (2, 16, 32, 32) and 0 <= float(out.skin.detach().min()) <= 1
    assert out.features_a.shape[-2:] == (32, 32) and out.features_b.shape[-2:] == (16, 16)
    heads = [net.global_head.conv, net.auxiliary_head.conv, *(h.conv for h in net.partition_heads)]
    assert len({id(h.weight) for h in heads}) == 6  # the released code shares one; we do not
    paper = RPPGNet()  # the paper's widths: 16/32/64 channels
    assert [paper.stem[0].out_channels, paper.block_a[0][3].out_channels] == [16, 32]
    assert paper.block_c[1][3].out_channels == 64


def test_skin_attention_is_parameter_free_and_follows_the_skin() -> None:
    feats = torch.ones(1, 4, 2, 8, 8)
    skin = torch.zeros(1, 1, 2, 16, 16)
    skin[..., :8, :8] = 1.0  # skin only in the top-left quarter (at twice the resolution)
    att = skin_attention(feats, skin, 2)
    per_frame = att[0, 0, 0]
    assert per_frame.sum() == pytest.approx(1.0, abs=1e-5)  # softmax over the frame's pixels
    assert per_frame[:4, :4].mean() > per_frame[4:, 4:].mean() * 2


def test_loss_terms_and_ablations() -> None:
    torch.manual_seed(0)
    net = RPPGNet(width=8)
    out = net(torch.randn(2, 3, 16, 32, 32))
    label = torch.randn(2, 16)
    skin = torch.rand(2, 16, 16, 16) > 0.5
    full = rppgnet_loss(out, label, skin)
    assert set(full) == {"signal", "auxiliary", "partitions", "skin"}
    assert set(rppgnet_loss(out, label, None)) == {"signal", "auxiliary", "partitions"}
    assert set(rppgnet_loss(out, label, skin, partitions=False)) == {"signal", "auxiliary", "skin"}
    assert all(float(v.detach()) > 0 for v in full.values())
    sum(full.values()).backward()
    assert (
        net.skin.out.weight.grad is not None
        and net.partition_heads[3].conv.weight.grad.abs().sum() > 0
    )
    assert RPPGNet(width=8, attention=False)(torch.randn(1, 3, 8, 32, 32)).signal.shape == (1, 8)

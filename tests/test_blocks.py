"""Shared network blocks: TDC against a direct loop over AutoHR's formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rppgkit.models.blocks import TDC


def tdc_by_loops(x: np.ndarray, w: np.ndarray, theta: float) -> np.ndarray:
    """The paper's TDC at every output position, stride 1, zero padding 1:
    sum over the 3x3x3 neighbourhood of w(p) x(p0 + p), minus theta x(p0) times the sum of the
    weights on the previous and next frames."""
    b, cin, t, h, wd = x.shape
    cout = w.shape[0]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1), (1, 1)))
    out = np.zeros((b, cout, t, h, wd))
    for n in range(b):
        for o in range(cout):
            for i in range(t):
                for j in range(h):
                    for k in range(wd):
                        window = xp[n, :, i : i + 3, j : j + 3, k : k + 3]
                        plain = float((w[o] * window).sum())
                        # the centre value of each input channel, weighted by that channel's ends
                        centre = sum(
                            x[n, c, i, j, k] * (w[o, c, 0].sum() + w[o, c, 2].sum())
                            for c in range(cin)
                        )
                        out[n, o, i, j, k] = plain - theta * centre
    return out


@pytest.mark.parametrize("theta", [0.0, 0.3, 0.7, 1.0])
def test_tdc_matches_the_papers_formula(theta: float) -> None:
    torch.manual_seed(0)
    block = TDC(2, 3, theta=theta)
    x = torch.randn(1, 2, 4, 5, 5)
    want = tdc_by_loops(x.numpy(), block.conv.weight.detach().numpy(), theta)
    np.testing.assert_allclose(block(x).detach().numpy(), want, rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_tdc_at_theta_one_cancels_the_neighbour_frames_of_a_constant_clip() -> None:
    torch.manual_seed(1)
    block = TDC(1, 1, theta=1.0)
    block.conv.weight.fill_(1.0)
    # a clip constant over time and space: with theta = 1 the previous and next frames' taps
    # cancel against the centre, leaving the centre frame's 3x3 sum (9) inside the clip
    x = torch.ones(1, 1, 5, 5, 5)
    assert float(block(x)[0, 0, 2, 2, 2]) == pytest.approx(9.0)
    plain = TDC(1, 1, theta=0.0)
    plain.load_state_dict(block.state_dict())
    assert float(plain(x)[0, 0, 2, 2, 2]) == pytest.approx(27.0)

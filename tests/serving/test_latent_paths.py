"""serving/latents: the routes every loop takes (the studio's, the canvas's, the CLI's)."""
import math

import torch

from attn_demo.serving.latents import loop_angles, loop_point, slerp_path


def test_slerp_path_open_and_closed():
    zs = [torch.randn(8, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    open_path = slerp_path(zs[:2], 5, closed=False)
    assert open_path.shape == (5, 8)
    assert torch.allclose(open_path[0], zs[0], atol=1e-5) and torch.allclose(open_path[-1], zs[1], atol=1e-5)
    closed = slerp_path(zs, 4, closed=True)
    assert closed.shape == (12, 8) and torch.allclose(closed[4], zs[1], atol=1e-5)


def test_the_exact_loop_goes_through_both_ends_and_closes():
    a, b = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    angles = loop_angles(8)
    assert len(angles) == 8 and angles[0] == 0.0 and angles[2] == math.pi / 2
    assert torch.equal(loop_point(a, b, angles[0]), a)
    assert torch.allclose(loop_point(a, b, angles[2]), b, atol=1e-6)
    assert torch.allclose(loop_point(a, b, 2 * math.pi), a, atol=1e-6)

"""Long-range order (quality/alignment.py, issue #36 §2): a lattice keeps its repeat across the
canvas, a lattice whose rows drift loses it, a flat or random surface has none; attention switched
off is restored after."""
import numpy as np
import pytest
import torch

from attn_demo.quality import alignment

SIDE = 256


def bricks(drift: float = 0.0, seed: int = 0) -> np.ndarray:
    """(SIDE, SIDE) luminance: 16-px courses of 32-px bricks, each course's joints offset by half a
    brick; with drift, the wall is warped by a smooth random displacement of about that many px
    (courses bend and joints slide, as a pattern with no long-range coordination wanders)."""
    y, x = np.mgrid[:SIDE, :SIDE].astype(float)
    if drift:
        rng = np.random.default_rng(seed)
        k = np.fft.fftfreq(SIDE)
        low = np.hypot(*np.meshgrid(k, k, indexing="ij")) < 2 / SIDE       # wavelengths over SIDE / 2
        for a in (x, y):
            d = np.fft.ifft2(np.fft.fft2(rng.normal(size=(SIDE, SIDE))) * low).real
            a += drift * d / d.std()
    course = np.floor(y / 16)
    joint = ((x + (course % 2) * 16) % 32 < 2) | (y % 16 < 2)
    return np.where(joint, 0.3, 0.7)


def test_a_lattice_keeps_its_order_and_a_drifting_one_loses_it():
    aligned = alignment.order(bricks())
    drifting = alignment.order(bricks(drift=3.0))
    noise = alignment.order(np.random.default_rng(1).normal(size=(SIDE, SIDE)))
    assert aligned["order"] > 0.95 and aligned["near"] > 0.5
    assert drifting["order"] < 0.35 and drifting["near"] > 0.4           # the wall is there, its order is not
    orders = [alignment.order(bricks(drift=d))["order"] for d in (1.0, 2.0, 4.0)]
    assert orders == sorted(orders, reverse=True)                        # more drift, less order
    weak = min(drifting["x"], drifting["y"], key=lambda a: a["order"])
    assert drifting["order"] == weak["order"] and drifting["near"] == weak["near"]     # the weaker axis
    assert noise["near"] < 0.05                                      # nothing repeats
    flat = alignment.order(np.full((SIDE, SIDE), 0.5))
    assert flat["near"] == flat["far"] == flat["order"] == 0.0
    c = alignment.autocorrelation(bricks())
    assert c[0, 0] == pytest.approx(1.0) and c[16, 0] == pytest.approx(c[0, 0] * c[16, 0])   # 1 at lag 0


def test_attention_off_zeroes_every_gate_and_restores_them():
    from attn_demo.models.attention import SelfAttention2d
    layers = {"G8": SelfAttention2d(16, context=True), "G16": SelfAttention2d(16)}
    with torch.no_grad():
        for m in layers.values():
            m.gamma.fill_(0.7)
        layers["G8"].gamma_ctx.fill_(0.3)
    x = torch.randn(1, 16, 8, 8)
    with alignment.attention_off(layers):
        assert all(m.gamma.item() == 0 for m in layers.values()) and layers["G8"].gamma_ctx.item() == 0
        assert torch.allclose(layers["G8"](x), x)                    # the identity
    assert layers["G16"].gamma.item() == pytest.approx(0.7) and layers["G8"].gamma_ctx.item() == pytest.approx(0.3)


def test_the_command_measures_a_canvas_model_with_and_without_attention(tmp_path, capsys):
    import json
    from attn_demo.models.canvas import CanvasGenerator
    from attn_demo.models.checkpoint import save_pretrained
    from test_canvas import canvas_config, that_matters
    torch.manual_seed(0)
    G = that_matters(CanvasGenerator(canvas_config(class_names=("brick", "sand", "tiles"))).eval())
    model = save_pretrained(tmp_path / "tex", G)
    out = tmp_path / "a.json"
    alignment.main(["--weights", str(model), "--classes", "brick,tiles", "--seeds", "0-1", "--side", "128",
                    "--json", str(out), "--picture", str(tmp_path / "p.png")])
    result = json.loads(out.read_text())["classes"]
    assert set(result) == {"brick", "tiles"}
    assert set(result["brick"]) == {"with attention", "without attention", "at 256 px"}
    assert result["brick"]["with attention"]["order"]["n"] == 2
    assert result["brick"]["with attention"] != result["brick"]["without attention"]   # attention matters here
    assert "brick: with attention" in capsys.readouterr().out
    from PIL import Image
    assert Image.open(tmp_path / "p.png").size == (128 * 2 + 8, 128)
    with pytest.raises(SystemExit, match="no class 'wood'"):
        alignment.main(["--weights", str(model), "--classes", "wood"])

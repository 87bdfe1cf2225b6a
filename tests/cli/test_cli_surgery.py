"""`python -m attn_demo intervene` and `d-attention`: the same numbers as the engine, clear errors."""
import json

import numpy as np
import pytest
from PIL import Image

from attn_demo.cli import main
from attn_demo.models.networks import Discriminator
from attn_demo.serving.discriminator import save_discriminator
from attn_demo.serving.engine import Engine, RenderArgs
from attn_demo.serving.regions import box_mask
from attn_demo.serving.surgery import Surgery


def intervene(model_dir, out, *extra):
    return main(["intervene", "--weights", str(model_dir), "--seed", "3", "--out", str(out), *map(str, extra)])


def test_off_hide_redirect_write_pictures_and_the_difference(model_dir, tmp_path, capsys):
    npy = tmp_path / "diff.npy"
    assert intervene(model_dir, tmp_path / "off.png", "--action", "off", "--brush", "4,4,20,12", "--npy", npy,
                     "--scale", "2") == 0
    engine = Engine.from_pretrained(model_dir, device="cpu")
    ref = Surgery(engine, engine.render(RenderArgs(3))).switch_off(brush=box_mask((4, 4, 20, 12), (32, 32)))
    assert np.allclose(np.load(npy), ref.delta, atol=1e-5)
    assert Image.open(tmp_path / "off.png").size[0] > 3 * 64
    assert "grey levels" in capsys.readouterr().out
    assert intervene(model_dir, tmp_path / "hide.png", "--action", "hide", "--brush", "0,0,16,16", "--json") == 0
    stats = json.loads(capsys.readouterr().out.split("\nwrote")[0])
    assert stats["action"] == "hide" and stats["hidden_cells"] == 16
    assert intervene(model_dir, tmp_path / "r.png", "--action", "redirect", "--x", 5, "--y", 6,
                     "--target", "20,20,32,32", "--layer", "G16") == 0


def test_faithfulness_sentence_and_curve(model_dir, tmp_path, capsys):
    curve = tmp_path / "curve.png"
    assert intervene(model_dir, tmp_path / "f.png", "--action", "faithfulness", "--x", 16, "--y", 12, "--k", 3,
                     "--draws", 2, "--curve", curve) == 0
    assert "3 brightest cells" in capsys.readouterr().out and Image.open(curve).size == (480, 240)


@pytest.mark.parametrize("extra, message", [
    (["--action", "off", "--x", 3], "both --x and --y"),
    (["--action", "hide"], "needs --brush"),
    (["--action", "hide", "--brush", "0,0,40,8"], "outside the 32x32 image"),
    (["--action", "off", "--brush", "0,0,32,32"], "every pixel"),
    (["--action", "off", "--brush", "5,5,5,9"], "covers no pixel"),
    (["--action", "off", "--brush", "1,2,3"], "x0,y0,x1,y1"),
    (["--action", "redirect", "--x", 1, "--y", 1], "needs --target"),
    (["--action", "faithfulness", "--x", 1, "--y", 1, "--k", 64], "does not fit the key grid"),
    (["--action", "faithfulness"], "needs --x and --y"),
    (["--action", "off", "--layer", "G99"], "unknown attention layer"),
    (["--action", "off", "--curve", "c.png"], "--curve goes with"),
    (["--action", "hide", "--brush", "0,0,4,4", "--x", 1, "--y", 1], "takes no --x/--y"),
])
def test_errors_are_one_line(model_dir, tmp_path, capsys, extra, message):
    assert intervene(model_dir, tmp_path / "x.png", *extra) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_d_attention(model_dir, tmp_path, capsys):
    picture = tmp_path / "in.png"
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(picture)
    args = ["d-attention", "--weights", str(model_dir), "--image", str(picture), "--x", "3", "--y", "4",
            "--out", str(tmp_path / "d.png")]
    assert main(args) == 2 and "this model ships no discriminator" in capsys.readouterr().err
    with_d = tmp_path / "withd"
    with_d.mkdir()
    for f in model_dir.iterdir():
        (with_d / f.name).write_bytes(f.read_bytes())
    from attn_demo.models.checkpoint import load_config
    save_discriminator(with_d, Discriminator(load_config(model_dir)))
    args[2] = str(with_d)
    assert main(args + ["--json"]) == 0
    out = json.loads(capsys.readouterr().out.split("\nwrote")[0])
    assert [m["layer"] for m in out["maps"]] == ["D16"] and isinstance(out["score"], float)


def test_a_painted_mask_is_a_brush_on_the_command_line(model_dir, tmp_path, capsys):
    """--brush and --target take mask:N:BITS as the studio paints it (the left half: mask:4:zMw)."""
    assert intervene(model_dir, tmp_path / "m.png", "--action", "hide", "--brush", "mask:4:zMw", "--json") == 0
    painted = json.loads(capsys.readouterr().out.split("\nwrote")[0])
    assert intervene(model_dir, tmp_path / "b.png", "--action", "hide", "--brush", "0,0,16,32", "--json") == 0
    boxed = json.loads(capsys.readouterr().out.split("\nwrote")[0])
    assert painted["hidden_cells"] == boxed["hidden_cells"] > 0
    assert painted["mean_change_grey"] == pytest.approx(boxed["mean_change_grey"], abs=1e-6)
    assert intervene(model_dir, tmp_path / "x.png", "--action", "hide", "--brush", "mask:4:AAA") == 2
    assert "covers no pixel" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["intervene", "--help"])
    assert "mask:N:BITS" in capsys.readouterr().out

"""Training snapshots (models/snapshots.py, training/snapshots.py) and the timeline / A/B they serve
(serving/timeline.py, the CLI verbs), from a tiny run's kept checkpoints: each snapshot against its
checkpoint's EMA generator loaded by hand, and every refusal a message."""
import json

import numpy as np
import pytest
import torch

from attn_demo.cli import main
from attn_demo.errors import CheckpointError, InputError
from attn_demo.imaging.folders import make_shapes
from attn_demo.models.config import ModelConfig, TrainConfig
from attn_demo.models.networks import build_generator
from attn_demo.models.snapshots import SNAPSHOTS_FILE, load_snapshot, snapshot_steps
from attn_demo.serving.engine import Engine, MapSettings, RenderArgs
from attn_demo.serving.timeline import Snapshots, ab_picture, frame, parse_source
from attn_demo.training.publish import export_run, standing_stats
from attn_demo.training.snapshots import pick, write_snapshots
from attn_demo.training.state import kept_path, load_ema_generator
from attn_demo.training.trainer import train

MODEL = ModelConfig(resolution=32, z_dim=16, g_width=16, d_width=16, g_attn=(16,), d_attn=(16,),
                    num_classes=3, class_names=("disc", "square", "triangle"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("timeline")
    shapes = make_shapes(48, 32, seed=0)
    run = root / "run"
    train(MODEL, TrainConfig(batch_size=8, max_steps=5, ckpt_every=5, sample_every=5, log_every=1, ema_start=1,
                             keep_every=1, data_hash=shapes.sha256()), shapes, run, device="cpu", progress=False,
          log=lambda *a: None)
    model = export_run(run, root / "model")
    steps = write_snapshots(run, model, count=3)
    return run, model, steps


def test_pick_spreads_evenly_and_keeps_both_ends():
    assert pick([1, 2, 3], 8) == [1, 2, 3]
    assert pick(list(range(1, 11)), 3) == [1, 5, 10]          # index 4.5 rounds to even
    assert pick(list(range(100)), 8)[::7] == [0, 99]


def test_snapshots_are_the_checkpoints_ema_generators(tiny):
    run, model, steps = tiny
    assert steps == [1, 3, 5] and snapshot_steps(model) == steps
    for step in steps:
        G = build_generator(MODEL)                         # by hand: the kept checkpoint's G_ema, its
        load_ema_generator(kept_path(run, step), G)        # standing statistics, stored as float16
        G = standing_stats(G)
        with torch.no_grad():
            for t in G.state_dict().values():
                if t.is_floating_point():
                    t.copy_(t.half().float())
        S = load_snapshot(model, step)
        for name, t in G.state_dict().items():
            assert torch.equal(t, S.state_dict()[name]), (step, name)
    # the served snapshot renders what that generator renders
    snaps = Snapshots(Engine.from_pretrained(model, device="cpu"))
    args = RenderArgs(3, 0.8, "square")
    e = snaps.engine(5)
    plain = Engine(load_snapshot(model, 5), device="cpu").render(args)
    assert np.array_equal(e.render(args).image, plain.image)
    # and the last step is the exported model, up to float16
    shipped = snaps.engine(None).render(args).image.astype(int)
    assert np.abs(e.render(args).image.astype(int) - shipped).max() <= 2


def test_frames_and_ab(tiny):
    _, model, steps = tiny
    snaps = Snapshots(Engine.from_pretrained(model, device="cpu"))
    args, settings = RenderArgs(3, 0.8, "disc"), MapSettings()
    a = frame(snaps.engine(1), "model@1", args, (10, 20), 32, settings, 4)
    b = frame(snaps.engine(5), "model@5", args, (10, 20), 32, settings, 4)
    e = snaps.engine(5)
    res = e.render(args)
    assert np.array_equal(b.overlay, e.inspect(res, 10, 20, settings, (32, 32), 4).overlay)
    assert b.gammas == {k: float(c.gamma) for k, c in res.captures.items()}
    assert a.gammas != b.gammas
    assert ab_picture(a, b).shape[1] > 2 * a.overlay.shape[1]
    assert parse_source("model@12") == ("model", 12) and parse_source("emoji32") == ("emoji32", None)
    with pytest.raises(InputError, match="whole step"):
        parse_source("model@x")


def test_a_snapshot_that_does_not_exist_says_so(tiny, tmp_path):
    _, model, _ = tiny
    snaps = Snapshots(Engine.from_pretrained(model, device="cpu"))
    with pytest.raises(InputError, match="no snapshot at step 2; its snapshots are at steps 1, 3, 5"):
        snaps.engine(2)
    other = tmp_path / "bare"
    other.mkdir()
    for f in ("config.json", "model.safetensors"):
        (other / f).write_bytes((model / f).read_bytes())
    with pytest.raises(InputError, match="ships no training snapshots"):
        Snapshots(Engine.from_pretrained(other, device="cpu")).engine(1)


def test_forged_snapshot_files_are_refused(tiny, tmp_path):
    _, model, _ = tiny
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in ("config.json", "model.safetensors"):
        (bad / f).write_bytes((model / f).read_bytes())
    (bad / SNAPSHOTS_FILE).write_bytes(b"\x80\x04\x95" + b"\0" * 64)      # a pickle
    with pytest.raises(CheckpointError, match="never unpickles"):
        snapshot_steps(bad)
    from attn_demo.models.checkpoint import save_tensors
    save_tensors(bad / SNAPSHOTS_FILE, {"000000001.x": torch.zeros(1)},
                 {"format": "attn-demo-snapshots-v1", "steps": "[1]", "config": "{}"})
    with pytest.raises(CheckpointError, match="another architecture"):
        snapshot_steps(bad)
    cfg = (model / "config.json").read_text().strip()
    save_tensors(bad / SNAPSHOTS_FILE, {"000000001.x": torch.zeros(1)},
                 {"format": "attn-demo-snapshots-v1", "steps": "[1]", "config": cfg})
    with pytest.raises(CheckpointError, match="does not match its config"):
        load_snapshot(bad, 1)


def test_card_and_cli(tiny, tmp_path, capsys):
    run, model, steps = tiny
    card = (model / "README.md").read_text()
    assert "## Training timeline" in card and "3 EMA generator snapshots" in card
    out = tmp_path / "t.png"
    assert main(["timeline", "--weights", str(model), "--seed", "3", "--class", "disc", "--x", "5", "--y", "6",
                 "--json", "--out", str(out)]) == 0
    info = json.loads(capsys.readouterr().out.split("\nwrote")[0])
    assert [f["source"] for f in info] == ["model@1", "model@3", "model@5"] and out.exists()
    out = tmp_path / "ab.png"
    assert main(["ab", "--weights", str(model), "--step", "1", "--b", f"{model}@5", "--seed", "3", "--class",
                 "disc", "--out", str(out)]) == 0
    assert "model@1" in capsys.readouterr().out and out.exists()
    assert main(["timeline", "--weights", str(model), "--seed", "3", "--class", "disc", "--step", "4",
                 "--out", str(out)]) == 2
    assert "no snapshot at step 4" in capsys.readouterr().err
    assert main(["snapshots", "--run", str(run), "--out", str(model), "--count", "2"]) == 0
    assert snapshot_steps(model) == [1, 5]
    write_snapshots(run, model, count=3)


def test_an_export_ships_the_runs_discriminator_for_the_studios_view(tiny):
    """export_run writes D of the same checkpoint beside G: the studio's view of D loads it, and its
    tensors are the checkpoint's own."""
    from safetensors.torch import load_file

    from attn_demo.serving.discriminator import DISCRIMINATOR_FILE, load_discriminator
    from attn_demo.training.state import CHECKPOINT
    run, model, _ = tiny
    assert (model / DISCRIMINATOR_FILE).is_file() and DISCRIMINATOR_FILE in (model / "README.md").read_text()
    D = load_discriminator(model)
    saved = load_file(str(run / CHECKPOINT))
    for name, tensor in D.state_dict().items():
        assert torch.equal(tensor, saved[f"D.{name}"]), name

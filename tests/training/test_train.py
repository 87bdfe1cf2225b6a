"""Training: dry run, exact resume, DDP, faults (NaN, kill, signals), export."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from attn_demo.models.config import ModelConfig, TrainConfig
from attn_demo.imaging.folders import make_shapes
from attn_demo.serving.engine import Engine, RenderArgs
from attn_demo.training.publish import export_run
from attn_demo.training.runtime import Runtime, TrainingError, setup_runtime
from attn_demo.training.step import build_state
from attn_demo.training.trainer import train
from attn_demo.training.state import CHECKPOINT, read_configs
from conftest import load_script

MODEL = ModelConfig(resolution=32, z_dim=16, g_width=16, d_width=16, g_attn=(16,), d_attn=(16,),
                    num_classes=3, class_names=("disc", "square", "triangle"))


def cfg(**kw):
    base = dict(batch_size=8, max_steps=6, ckpt_every=3, sample_every=3, log_every=1, ema_start=2)
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def shapes():
    return make_shapes(48, 32, seed=0)


def run_cli(*args, timeout=300, **kw):
    return subprocess.run([sys.executable, "-m", "attn_demo", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, **kw)


def load_all(run_dir):
    from safetensors.torch import load_file
    return load_file(run_dir / CHECKPOINT)


def test_dry_run_cli(tmp_path):
    r = run_cli("train", "--dry-run", "--out", tmp_path / "dry", "--g-width", 16, "--d-width", 16)
    assert r.returncode == 0, r.stderr
    run = tmp_path / "dry"
    assert (run / CHECKPOINT).exists() and (run / "samples" / "latest.png").exists()
    lines = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [1, 2, 3, 4]
    assert all(abs(x["loss_d"]) < 1e3 and "gamma_G16" in x for x in lines)
    assert json.loads((run / "summary.json").read_text())["step"] == 4


def test_resume_continues_with_identical_state(tmp_path, shapes):
    train(MODEL, cfg(), shapes, tmp_path / "a", device="cpu", progress=False, log=lambda *a: None)
    train(MODEL, cfg(max_steps=3), shapes, tmp_path / "b", device="cpu", progress=False, log=lambda *a: None)
    assert read_configs(tmp_path / "b" / CHECKPOINT)[2]["step"] == "3"
    train(MODEL, cfg(), shapes, tmp_path / "b", device="cpu", resume=True, progress=False, log=lambda *a: None)
    a, b = load_all(tmp_path / "a"), load_all(tmp_path / "b")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-6, rtol=0), k


def test_resume_refuses_changed_config_unless_forced(tmp_path, shapes):
    data_dir = tmp_path / "data"
    for i, img in enumerate(shapes.images[:24]):
        d = data_dir / shapes.class_names[int(shapes.labels[i])]
        d.mkdir(parents=True, exist_ok=True)
        from PIL import Image
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(d / f"{i}.png")
    common = ("--data", data_dir, "--out", tmp_path / "run", "--z-dim", 16, "--g-width", 16, "--d-width", 16,
              "--batch-size", 4)
    assert run_cli("train", *common, "--steps", 2).returncode == 0
    r = run_cli("train", *common, "--steps", 3, "--resume", "--lr-d", 0.01)
    assert r.returncode == 2 and "lr_d" in r.stderr and "--force" in r.stderr
    r = run_cli("train", *common, "--steps", 3, "--resume", "--g-width", 32)
    assert r.returncode == 2 and "g_width" in r.stderr
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["lr_d"] == 4e-4
    r = run_cli("train", *common, "--steps", 3, "--resume", "--lr-d", 0.01, "--force")
    assert r.returncode == 0, r.stderr
    # config.json says what the run trains with now (export's card reads the data part of it)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["lr_d"] == 0.01
    r = run_cli("train", *common, "--steps", 3)
    assert r.returncode == 2 and "--resume" in r.stderr


def test_a_forced_resume_trains_with_the_new_learning_rates(tmp_path):
    """The checkpoint restores Adam's moments, not its old settings: --lr-g/--lr-d changed with
    --force on resume take effect (the file's param_groups would otherwise bring the old rates back)."""
    from attn_demo.training.state import load_train_state, save_train_state
    rt = Runtime(torch.device("cpu"))
    old = build_state(MODEL, cfg(), rt)
    for p in old.G.parameters():   # moments worth restoring
        p.grad = torch.ones_like(p)
    old.opt_g.step()
    save_train_state(tmp_path / "c.safetensors", old, MODEL, cfg())
    new = build_state(MODEL, cfg(lr_g=2.5e-5, lr_d=1e-4, beta2=0.99), rt)
    load_train_state(tmp_path / "c.safetensors", new)
    assert [g["lr"] for g in new.opt_g.param_groups] == [2.5e-5]
    assert [g["lr"] for g in new.opt_d.param_groups] == [1e-4]
    assert new.opt_g.param_groups[0]["betas"] == (0.0, 0.99)
    first = next(iter(old.G.parameters()))
    assert torch.equal(new.opt_g.state[next(iter(new.G.parameters()))]["exp_avg_sq"],
                       old.opt_g.state[first]["exp_avg_sq"])


def test_d_steps_updates_d_that_many_times_per_step(tmp_path, shapes):
    for n in (1, 2):
        train(MODEL, cfg(max_steps=2, d_steps=n), shapes, tmp_path / str(n), device="cpu", progress=False,
              log=lambda *a: None)
        saved = load_all(tmp_path / str(n))
        assert float(saved["opt_d.state.0.step"]) == 2 * n and float(saved["opt_g.state.0.step"]) == 2


def test_injected_nan_is_caught_and_rolled_back(tmp_path, shapes):
    summary = train(MODEL, cfg(max_steps=6), shapes, tmp_path / "r", device="cpu", inject_nan_at=4,
                    progress=False, log=lambda *a: None)
    assert summary["step"] == 6
    events = [json.loads(x) for x in (tmp_path / "r" / "log.jsonl").read_text().splitlines()]
    bad = [e for e in events if e.get("event") == "non_finite"]
    assert len(bad) == 1 and bad[0]["step"] == 4
    assert all(torch.isfinite(t).all() for t in load_all(tmp_path / "r").values() if t.is_floating_point())


def test_repeated_nan_stops_and_keeps_last_good_checkpoint(tmp_path, shapes, monkeypatch):
    import attn_demo.training.trainer as tr
    real_step = tr.train_step

    def poisoned(*a, **k):
        out = real_step(*a, **k)
        return {**out, "loss_g": out["loss_g"] * float("nan")}
    monkeypatch.setattr(tr, "train_step", poisoned)
    with pytest.raises(TrainingError, match="NaN"):
        train(MODEL, cfg(max_nan_rollbacks=2), shapes, tmp_path / "r", device="cpu",
              progress=False, log=lambda *a: None)
    state = load_all(tmp_path / "r")
    assert read_configs(tmp_path / "r" / CHECKPOINT)[2]["step"] == "0"
    assert all(torch.isfinite(t).all() for t in state.values() if t.is_floating_point())


def test_time_budget_stops_and_saves(tmp_path, shapes):
    s = train(MODEL, cfg(max_steps=10**6, time_budget=1.0), shapes, tmp_path / "t", device="cpu",
              progress=False, log=lambda *a: None)
    assert s["stop_reason"] == "time_budget" and s["step"] > 0
    assert read_configs(tmp_path / "t" / CHECKPOINT)[2]["step"] == str(s["step"])


def _train_cmd(out, *extra):
    return [sys.executable, "-m", "attn_demo", "train", "--data", "shapes", "--out", str(out), "--z-dim", "16",
            "--g-width", "16", "--d-width", "16", "--batch-size", "8", *map(str, extra)]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_saves_once_and_exits(tmp_path, sig):
    """Item 32: SIGTERM, and Ctrl-C (SIGINT) alike: one save, a clean exit."""
    out = tmp_path / "sig"
    p = subprocess.Popen(_train_cmd(out, "--steps", 100000, "--log-every", 1),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = out / "log.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 3):
        time.sleep(0.2)
    p.send_signal(sig)
    _, stderr = p.communicate(timeout=120)
    assert p.returncode == 0, stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stop_reason"] == sig.name and summary["step"] >= 3
    assert read_configs(out / CHECKPOINT)[2]["step"] == str(summary["step"])


def test_kill_9_during_saves_leaves_a_loadable_checkpoint(tmp_path):
    """Checkpoint every step and kill -9 at once: the file on disk always loads; resume works."""
    out = tmp_path / "kill"
    p = subprocess.Popen(_train_cmd(out, "--steps", 100000, "--ckpt-every", 1, "--log-every", 1),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = out / "log.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 4):
        time.sleep(0.05)
    p.kill()
    p.wait()
    _, _, meta = read_configs(out / CHECKPOINT)
    assert int(meta["step"]) >= 2
    r = subprocess.run(_train_cmd(out, "--steps", int(meta["step"]) + 2, "--resume"),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert not list(out.glob(".*.tmp"))   # stale temp files are cleaned on start


def test_ddp_two_gloo_processes(tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                        "--master_port", str(_free_port()), "-m", "attn_demo", "train", "--dry-run",
                        "--out", str(out), "--g-width", "16", "--d-width", "16", "--z-dim", "16",
                        "--device", "cpu"], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["step"] == 4
    assert summary["images_seen"] == 4 * 8 * 2


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_export_then_engine_generates(tmp_path, shapes):
    train(MODEL, cfg(max_steps=3), shapes, tmp_path / "run", device="cpu", progress=False, log=lambda *a: None)
    out = export_run(tmp_path / "run", tmp_path / "model")
    engine = Engine.from_pretrained(out, device="cpu")
    r = engine.render(RenderArgs(seed=1, label="square"))
    assert r.image.shape == (32, 32, 3)
    card = (out / "README.md").read_text()
    assert "steps: 3" in card and "gamma" in card
    assert json.loads((out / "training.json").read_text())["steps"] == 3


def test_keep_every_keeps_checkpoints_that_export_and_resume_later(tmp_path, shapes):
    from safetensors.torch import load_file
    from attn_demo.cli.training import _reconcile
    from attn_demo.errors import CheckpointError
    from attn_demo.training.state import kept_path, kept_steps
    run = tmp_path / "run"
    train(MODEL, cfg(max_steps=5, ckpt_every=3, keep_every=2, data_hash=shapes.sha256()), shapes, run,
          device="cpu", progress=False, log=lambda *a: None)
    assert kept_steps(run) == [2, 4]                     # kept off the ckpt_every grid too
    assert read_configs(kept_path(run, 4))[2]["step"] == "4"
    assert read_configs(run / CHECKPOINT)[2]["step"] == "5"
    assert not list((run / "checkpoints").glob(".*.tmp"))

    at4 = export_run(run, tmp_path / "m4", step=4)
    training = json.loads((at4 / "training.json").read_text())
    assert training["steps"] == 4 and training["stop_reason"] == "kept"
    assert training["checkpoint"] == "checkpoints/step-0000004.safetensors"
    assert "kept along a longer run" in (at4 / "README.md").read_text()
    latest = export_run(run, tmp_path / "m5")
    assert json.loads((latest / "training.json").read_text())["steps"] == 5
    w4, w5 = load_file(at4 / "model.safetensors"), load_file(latest / "model.safetensors")
    assert any(not torch.equal(w4[k], w5[k]) for k in w4)
    Engine.from_pretrained(at4, device="cpu").render(RenderArgs(seed=0, label="disc"))
    # --grid draws seeds 0..63 with the served (folded) generator, --plot the curves.
    from PIL import Image
    from attn_demo.cli import main
    grid, plot = tmp_path / "grid.png", tmp_path / "curves.png"
    assert main(["export", str(run), "--step", "4", "--out", str(tmp_path / "m4g"), "--grid", str(grid),
                 "--plot", str(plot)]) == 0
    side = 2 * (8 * MODEL.resolution + 9 * 2)              # 8x8 samples, 2-px gaps, upscaled 2x
    assert Image.open(grid).size == (side, side) and Image.open(plot).size[0] > 0

    with pytest.raises(CheckpointError, match="kept steps: 2, 4"):
        export_run(run, tmp_path / "m3", step=3)
    r = run_cli("export", run, "--step", 7, "--out", tmp_path / "m7")
    assert r.returncode != 0 and "no checkpoint kept at step 7" in r.stderr and "Traceback" not in r.stderr
    # How often to keep is operational: a resumed run may change it without --force.
    assert _reconcile(run / CHECKPOINT, {}, {"keep_every": 1}, shapes, force=False)[1].keep_every == 1

    # Going back to step 2 and on: the copy kept at 4 (the old history) is set aside, not overwritten.
    old4 = kept_path(run, 4).read_bytes()
    (run / CHECKPOINT).write_bytes(kept_path(run, 2).read_bytes())
    messages = []
    train(MODEL, cfg(max_steps=4, ckpt_every=3, keep_every=2, data_hash=shapes.sha256()), shapes, run,
          device="cpu", resume=True, progress=False, log=messages.append)
    assert kept_steps(run) == [2, 4] and any("set-aside-from-step-2" in m for m in messages)
    assert (run / "checkpoints" / "set-aside-from-step-2" / "step-0000004.safetensors").read_bytes() == old4


@pytest.mark.parametrize("bad", [{"keep_every": -1}, {"ckpt_every": 0}, {"log_every": 0}, {"sample_every": 1.5}])
def test_bad_intervals_are_refused(bad):
    from attn_demo.errors import ConfigError
    with pytest.raises(ConfigError, match=next(iter(bad))):
        TrainConfig(**bad)


def test_disk_full_during_save_stops_cleanly_and_keeps_checkpoint(tmp_path, shapes, monkeypatch):
    import errno
    import attn_demo.training.trainer as tr
    train(MODEL, cfg(max_steps=3, ckpt_every=3), shapes, tmp_path / "d", device="cpu", progress=False,
          log=lambda *a: None)
    before = (tmp_path / "d" / CHECKPOINT).read_bytes()

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(tr, "save_train_state", full)
    with pytest.raises(TrainingError, match="No space left on device.*intact"):
        train(MODEL, cfg(max_steps=6, ckpt_every=3), shapes, tmp_path / "d", device="cpu", resume=True,
              progress=False, log=lambda *a: None)
    assert (tmp_path / "d" / CHECKPOINT).read_bytes() == before


def test_resume_refuses_other_data_unless_forced(tmp_path, shapes):
    """Item 31: a resumed run checks the data's content hash."""
    from attn_demo.cli.training import _reconcile
    from attn_demo.errors import AttnDemoError
    train(MODEL, cfg(max_steps=2, data_hash=shapes.sha256()), shapes, tmp_path / "r", device="cpu",
          progress=False, log=lambda *a: None)
    other = make_shapes(48, 32, seed=1)
    with pytest.raises(AttnDemoError, match="data_hash"):
        _reconcile(tmp_path / "r" / CHECKPOINT, {}, {}, other, force=False)
    _, forced = _reconcile(tmp_path / "r" / CHECKPOINT, {}, {}, other, force=True)
    assert forced.data_hash == other.sha256()
    assert _reconcile(tmp_path / "r" / CHECKPOINT, {}, {"max_steps": 9}, shapes, force=False)[1].max_steps == 9


def test_read_log_drops_rows_a_killed_session_logged_past_its_last_save(tmp_path):
    from attn_demo.training.publish import plot_log, read_log
    rows = [{"step": s, "loss_d": 1.0, "loss_g": 0.0, "gamma_G16": 0.1, "session": 1} for s in (50, 100, 150, 200)]
    rows.append({"event": "non_finite", "step": 200})
    # The first session died after step 200 with its last save at step 100; the next resumed there.
    rows += [{"step": s, "loss_d": 2.0, "loss_g": 0.0, "gamma_G16": 0.2, "session": 2} for s in (150, 200, 250)]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    kept = read_log(tmp_path)
    assert [(r["step"], r["session"]) for r in kept] == [(50, 1), (100, 1), (150, 2), (200, 2), (250, 2)]
    assert plot_log(tmp_path, tmp_path / "curves.png", smooth=2).stat().st_size > 0


def test_compiled_training_matches_eager(tmp_path, shapes):
    """--compile on: the same run through Inductor (minutes of compiling on 2 cores, from a cold cache).
    In fp32, where the two differ by float rounding alone (bf16's rounding differs between kernels)."""
    from attn_demo.cli.training import _reconcile
    logs = {}
    for mode in ("off", "on"):
        train(MODEL, cfg(max_steps=4, compile=mode, amp="off", data_hash=shapes.sha256()), shapes, tmp_path / mode,
              device="cpu", progress=False, log=lambda *a: None)
        logs[mode] = [json.loads(x) for x in (tmp_path / mode / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs["on"]] == [1, 2, 3, 4]
    for eager, compiled in zip(logs["off"], logs["on"]):
        assert compiled["loss_d"] == pytest.approx(eager["loss_d"], rel=1e-3, abs=1e-4)
        assert compiled["loss_g"] == pytest.approx(eager["loss_g"], rel=1e-3, abs=1e-4)
    # The compiled modules trained the checkpoint's weights: they moved from the start as the eager
    # ones did, up to float rounding (a copy left untrained would differ by all of the movement).
    st = build_state(MODEL, cfg(), Runtime(torch.device("cpu")))   # the weights depend only on the seed
    init = {f"G.{k}": v for k, v in st.G.state_dict().items()} | {f"D.{k}": v for k, v in st.D.state_dict().items()}
    off, on = load_all(tmp_path / "off"), load_all(tmp_path / "on")
    for net in "GD":
        keys = [k for k in init if k.startswith(net + ".") and init[k].is_floating_point()]
        moved = sum(float((off[k] - init[k]).pow(2).sum()) for k in keys) ** 0.5
        apart = sum(float((on[k] - off[k]).pow(2).sum()) for k in keys) ** 0.5
        assert moved > 0.1 and apart < 0.01 * moved, (net, moved, apart)
    # compile is operational: a resumed run may turn it off (or on) without --force
    assert TrainConfig().compile == "off"
    assert _reconcile(tmp_path / "on" / CHECKPOINT, {}, {"compile": "off"}, shapes, force=False)[1].compile == "off"


def test_a_failing_compile_stops_with_a_clear_error_and_the_checkpoint_intact(tmp_path, shapes, monkeypatch):
    """--compile on where Inductor cannot work (no C++ compiler, a GPU Triton does not know): a clear
    TrainingError, the step-0 checkpoint untouched, and the run resumable without compiling."""
    import attn_demo.training.trainer as tr
    real_compile = torch.compile

    def no_compiler(gm, example_inputs):
        raise RuntimeError("no C++ compiler found")
    monkeypatch.setattr(tr.torch, "compile", lambda m: real_compile(m, backend=no_compiler))
    run = tmp_path / "c"
    with pytest.raises(TrainingError, match=r"torch.compile failed at step 1 .*no C\+\+ compiler.*--compile off"):
        train(MODEL, cfg(max_steps=2, compile="on"), shapes, run, device="cpu", progress=False,
              log=lambda *a: None)
    assert read_configs(run / CHECKPOINT)[2]["step"] == "0"
    monkeypatch.undo()
    train(MODEL, cfg(max_steps=2, compile="off"), shapes, run, device="cpu", resume=True, progress=False,
          log=lambda *a: None)
    assert read_configs(run / CHECKPOINT)[2]["step"] == "2"


def test_cli_compile_flag_reaches_the_step(tmp_path, monkeypatch):
    import attn_demo.training.trainer as tr
    from attn_demo.cli import main
    compiled = []
    monkeypatch.setattr(tr.torch, "compile", lambda m: compiled.append(type(m).__name__) or m)
    assert main(["train", "--dry-run", "--out", str(tmp_path / "d"), "--g-width", "16", "--d-width", "16",
                 "--compile", "on"]) == 0
    assert compiled == ["Generator", "Discriminator"]
    assert json.loads((tmp_path / "d" / "config.json").read_text())["train"]["compile"] == "on"
    assert main(["train", "--dry-run", "--out", str(tmp_path / "e"), "--g-width", "16", "--d-width", "16",
                 "--d-steps", "2"]) == 0
    assert json.loads((tmp_path / "e" / "config.json").read_text())["train"]["d_steps"] == 2
    from attn_demo.errors import ConfigError
    with pytest.raises(ConfigError, match="compile must be on or off, got 'yes'"):
        TrainConfig.from_dict({"compile": "yes"})


@pytest.mark.parametrize("native,amp,bf16,hint", [(True, "auto", True, True), (True, "off", False, False),
                                                  (True, "bf16", True, False), (False, "auto", False, False)])
def test_a_cpu_with_native_bf16_trains_in_bf16_by_default(tmp_path, shapes, monkeypatch, native, amp, bf16, hint):
    """--amp auto turns bf16 on for a CPU that runs it in hardware and says so (with the opt-out);
    --amp off keeps fp32 there, and a CPU that would emulate bf16 stays in fp32."""
    import attn_demo.training.runtime as runtime
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: native)
    assert setup_runtime("cpu", cfg(amp=amp)).amp == bf16
    messages = []
    summary = train(MODEL, cfg(max_steps=1, amp=amp), shapes, tmp_path / "run", device="cpu", progress=False,
                    log=messages.append)
    assert summary["step"] == 1
    assert any("bf16 autocast is on" in m and "--amp off" in m for m in messages) == hint


def test_sample_strip_script_lays_runs_grids_side_by_side(tmp_path, capsys):
    """scripts/sample_strip.py: LABEL=RUN:STEP finds the run's grid; grids sit side by side under
    their labels; a missing grid is a clear error."""
    from PIL import Image
    module = load_script("sample_strip")
    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    Image.new("RGB", (40, 30), (255, 0, 0)).save(run / "samples" / "step-0000500.png")
    Image.new("RGB", (40, 30), (0, 0, 255)).save(tmp_path / "other.png")
    out = tmp_path / "strip.png"
    module.main(["--out", str(out), "--scale", "2", f"early={run}:500", f"a=b, late={tmp_path / 'other.png'}"])
    with Image.open(out) as im:
        assert im.size == (2 * 80 + module.GAP, 60 + module.LABEL_H)
        assert im.getpixel((5, module.LABEL_H + 5)) == (255, 0, 0)
        assert im.getpixel((80 + module.GAP + 5, module.LABEL_H + 5)) == (0, 0, 255)
    assert "wrote" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="no sample grid"):
        module.main(["--out", str(out), f"x={run}:1000"])
    with pytest.raises(SystemExit, match="LABEL=PATH"):
        module.main(["--out", str(out), str(tmp_path / "other.png")])


def test_the_bars_minutes_left_move_between_log_steps(tmp_path, shapes, monkeypatch):
    """The budget's "min left" was written into the bar only at log steps (every 50 by default):
    between them, minutes of training showed the same stale number."""
    import attn_demo.training.trainer as trainer
    shown, now = [], [0.0]

    class Bar:
        def __init__(self, *a, **kw):
            self.n = kw.get("initial", 0)

        def update(self, k):
            self.n += k
            now[0] += 120.0                           # each step takes two minutes of the budget

        def set_postfix_str(self, text, refresh=True):
            shown.append(text)

        def close(self):
            pass

    class Clock:                                      # time.monotonic runs with the steps; the rest is real
        def __getattr__(self, name):
            return getattr(time, name)

        @staticmethod
        def monotonic():
            return now[0]

    monkeypatch.setattr(trainer, "tqdm", Bar)
    monkeypatch.setattr(trainer, "time", Clock())
    train(MODEL, cfg(max_steps=4, log_every=100, time_budget=3600.0), shapes, tmp_path / "run", device="cpu",
          log=lambda *a: None)
    left = [int(s.split("budget ")[1].split(" min")[0]) for s in shown]
    assert left[0] == 58 and left[-1] == 52, shown    # 60 min, less 2 after step 1 ... less 8 after step 4

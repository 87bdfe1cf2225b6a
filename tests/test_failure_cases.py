"""The failure cases of the project's failure-case list (docs/RELIABILITY.md), not covered
elsewhere. Each test names its item; docs/RELIABILITY.md maps every item to its tests."""
import os
import pickle
import shutil
import threading
import time

import httpx
import numpy as np
import pytest
import torch

from attn_demo.models.checkpoint import MAX_FILE_BYTES, WEIGHTS_FILE, load_pretrained, save_pretrained
from attn_demo.models.convert import convert
from attn_demo.serving.engine import Engine, RenderArgs
from attn_demo.errors import AttnDemoError, CheckpointError
from attn_demo.serving.loader import find_models
from attn_demo.studio.events import Handlers
from attn_demo.studio.view import View

from conftest import make_model_dir, tiny_generator
from test_api import raw_call


def test_item3_float_and_string_seeds_rejected_not_rounded(app_url):
    for seed in ("1.5", '"7"', "-1", "4294967296", "true"):
        status, text = raw_call(app_url, "generate", f'{{"data": ["tiny32", {seed}, 1.0, "", ""]}}')
        assert status in (200, 422) and "event: complete" not in text, seed
    status, text = raw_call(app_url, "generate", '{"data": ["tiny32", 12.0, 1.0, "", ""]}')
    assert "event: complete" in text                         # 12.0 is a whole number


def test_item4_surplus_arguments_are_ignored(app_url):
    status, text = raw_call(app_url, "generate", '{"data": ["tiny32", 3, 1.0, "", "", "extra", 99]}')
    assert status == 200 and "event: complete" in text


class FakeSelect:
    def __init__(self, index):
        self.index = index


@pytest.mark.parametrize("index", [[-5, 99999], "abc", None, [1e308, float("nan")], [1.5, 2], [512, 0],
                                   [0, 512], [True, 1], [[1], 2]])
def test_item5_forged_click_index_in_the_ui_handler(studio, index):
    h = Handlers(studio, View("tiny32", RenderArgs(1)))
    with pytest.raises(AttnDemoError):
        h.on_click(FakeSelect(index), View("tiny32", RenderArgs(1)))


def test_item7_symlinked_and_outside_models_not_offered(tmp_path):
    make_model_dir(tmp_path / "outside" / "evil")
    weights = tmp_path / "weights"
    make_model_dir(weights / "good")
    os.symlink(tmp_path / "outside" / "evil", weights / "linked")
    assert [p.name for p in find_models(weights)] == ["good"]


def test_item8_filedata_pointing_at_server_files_is_refused(app_url):
    for path in ("/etc/passwd", "app.py", "../../etc/hostname"):
        body = ('{"data": ["tinycond", 1, 1.0, "cat", "", 1, 1, 32, "", "mean", '
                f'{{"path": "{path}", "meta": {{"_type": "gradio.FileData"}}}}]}}')
        status, text = raw_call(app_url, "inspect", body)
        assert "root:" not in text and "import" not in text
    r = httpx.get(f"{app_url}gradio_api/file=/etc/passwd", timeout=10)
    assert r.status_code == 403 and "root:" not in r.text


def test_item9_oversized_upload_gets_413(app_url):
    r = httpx.post(f"{app_url}gradio_api/upload", files={"files": ("big.json", b"{" + b" " * (2 << 20) + b"}")},
                   timeout=30)
    assert r.status_code == 413


def test_item11_generate_during_swap_is_old_or_new_never_half(tmp_path):
    a, b = make_model_dir(tmp_path / "a", seed=1), make_model_dir(tmp_path / "b", seed=2)
    engine = Engine.from_pretrained(a, device="cpu")
    images = {engine.render(RenderArgs(5)).image.tobytes()}
    engine.load(b)
    images.add(engine.render(RenderArgs(5)).image.tobytes())
    assert len(images) == 2
    seen, errors, stop = [], [], threading.Event()

    def render_loop():
        while not stop.is_set():
            try:
                seen.append(engine.render(RenderArgs(5)).image.tobytes())
            except Exception as e:  # noqa: BLE001 - any failure is a test failure
                errors.append(e)
    t = threading.Thread(target=render_loop)
    t.start()
    for i in range(12):
        engine.load(a if i % 2 else b)
    stop.set()
    t.join()
    assert not errors and seen and set(seen) <= images


def test_item12_pickle_payload_never_runs(tmp_path, model_dir):
    canary = tmp_path / "canary"

    class Evil:
        def __reduce__(self):
            return (open, (str(canary), "w"))
    bad = tmp_path / "bad"
    shutil.copytree(model_dir, bad)
    (bad / WEIGHTS_FILE).write_bytes(pickle.dumps({"w": Evil()}))
    with pytest.raises(CheckpointError, match="never unpickles"):
        load_pretrained(bad)
    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"w": Evil()}))
    with pytest.raises(CheckpointError, match="refuses"):
        convert(tmp_path / "evil.pt", model_dir / "config.json", tmp_path / "out")
    torch.save({"w": torch.zeros(1), "evil": Evil()}, tmp_path / "evil_zip.pt")
    with pytest.raises(CheckpointError):
        convert(tmp_path / "evil_zip.pt", model_dir / "config.json", tmp_path / "out")
    assert not canary.exists() and not (tmp_path / "out").exists()


def test_item13_legacy_pt_converts_or_says_why(tmp_path, model_dir):
    g = load_pretrained(model_dir)
    torch.save(g.state_dict(), tmp_path / "ok.pt")
    out = convert(tmp_path / "ok.pt", model_dir / "config.json", tmp_path / "converted")
    assert all(torch.equal(a, b) for a, b in zip(load_pretrained(out).state_dict().values(), g.state_dict().values()))
    torch.save({"w": np.zeros(3)}, tmp_path / "numpy.pt")
    with pytest.raises(CheckpointError, match="safe load refuses"):
        convert(tmp_path / "numpy.pt", model_dir / "config.json", tmp_path / "x")


@pytest.mark.parametrize("content", [b"", b"\x00" * 10, os.urandom(300),
                                     b"\x80\x02e.",              # APPENDS with no mark: IndexError inside torch
                                     b"\x80\x02}q\x00X\x01"])    # a truncated string length: struct.error
def test_item14_broken_pt_files(tmp_path, model_dir, content):
    (tmp_path / "b.pt").write_bytes(content)
    with pytest.raises(CheckpointError, match="empty|not a valid|refuses"):
        convert(tmp_path / "b.pt", model_dir / "config.json", tmp_path / "x")


def test_item17_tensors_saved_in_half_precision_on_any_device_load_as_fp32(tmp_path, model_dir):
    g = load_pretrained(model_dir)
    torch.save({k: (v.to(torch.bfloat16) if v.is_floating_point() else v) for k, v in g.state_dict().items()},
               tmp_path / "bf16.pt")
    out = convert(tmp_path / "bf16.pt", model_dir / "config.json", tmp_path / "c")
    assert all(p.dtype == torch.float32 for p in load_pretrained(out).parameters())


def _as_if_saved_on_cuda(src, dst):
    """A torch.save zip whose storages say "cuda:0", as if saved on a GPU, made without one:
    the location is a length-prefixed string in data.pkl (pickle protocol 2, BINUNICODE)."""
    import zipfile
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith("data.pkl"):
                assert b"X\x03\x00\x00\x00cpu" in data
                data = data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            zout.writestr(info, data)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks loading GPU-saved tensors where there is no GPU")
def test_item17_checkpoint_saved_on_a_gpu_converts_on_a_cpu_only_machine(tmp_path, model_dir):
    g = load_pretrained(model_dir)
    torch.save({k: (v.half() if v.is_floating_point() else v) for k, v in g.state_dict().items()}, tmp_path / "c.pt")
    _as_if_saved_on_cuda(tmp_path / "c.pt", tmp_path / "gpu.pt")
    with pytest.raises(RuntimeError, match="CUDA"):          # the fixture really names a GPU
        torch.load(tmp_path / "gpu.pt", weights_only=True)
    out = convert(tmp_path / "gpu.pt", model_dir / "config.json", tmp_path / "c")
    loaded = load_pretrained(out)
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in loaded.parameters())
    for name, value in loaded.state_dict().items():
        expected = g.state_dict()[name]
        if expected.is_floating_point():
            assert torch.equal(value, expected.half().float()), name


def test_item18_size_cap_before_reading(tmp_path, model_dir, monkeypatch):
    import attn_demo.models.checkpoint as ck
    monkeypatch.setattr(ck, "MAX_FILE_BYTES", 1024)
    with pytest.raises(CheckpointError, match="over the"):
        load_pretrained(model_dir)
    assert MAX_FILE_BYTES >= 1 << 30


def test_item18_extra_tensor_refused_from_the_header(tmp_path, model_dir, monkeypatch):
    from safetensors.torch import save_file
    bad = tmp_path / "bad"
    shutil.copytree(model_dir, bad)
    state = {k: v.contiguous() for k, v in load_pretrained(model_dir).state_dict().items()}
    save_file({**state, "payload": torch.zeros(1 << 20)}, bad / WEIGHTS_FILE)
    import attn_demo.models.checkpoint as ck
    calls = []
    original = ck.read_tensors
    monkeypatch.setattr(ck, "read_tensors", lambda *a, **k: calls.append(k) or original(*a, **k))
    with pytest.raises(CheckpointError, match="unexpected 1: payload"):
        load_pretrained(bad)
    assert all(k.get("metadata_only") for k in calls)          # refused before any tensor was read


def test_item33_burst_over_queue_size_is_refused_fast(tmp_path):
    from attn_demo.studio.core import Studio
    from attn_demo.studio.ui import build_demo
    from conftest import free_port
    weights = tmp_path / "w"
    make_model_dir(weights / "tiny32")
    demo = build_demo(Studio(find_models(weights), device="cpu"))
    demo.queue(default_concurrency_limit=1, max_size=2)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        results = []

        def call(i):
            t = time.perf_counter()
            r = httpx.post(f"{url}gradio_api/call/interpolate",
                           json={"data": ["tiny32", "1, 2, 3, 4", 1.0, "", 40]}, timeout=60)
            results.append((r.status_code, time.perf_counter() - t))
        threads = [threading.Thread(target=call, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = [c for c, _ in results]
        assert 500 not in codes and codes.count(503) >= 1, codes
        assert all(dt < 5 for c, dt in results if c == 503)
        assert httpx.get(f"{url}gradio_api/info", timeout=10).status_code == 200
    finally:
        demo.close()


def test_item34_client_disconnect_frees_the_slot(app_url):
    # Start a long job and drop the connection while it streams; the next call is still served.
    r = httpx.post(f"{app_url}gradio_api/call/interpolate", json={"data": ["tiny32", "1, 2, 3, 4", 1.0, "", 60]},
                   timeout=30)
    event = r.json()["event_id"]
    with httpx.stream("GET", f"{app_url}gradio_api/call/interpolate/{event}", timeout=30) as s:
        next(s.iter_bytes())
    t = time.perf_counter()
    status, text = raw_call(app_url, "generate", '{"data": ["tiny32", 1, 1.0, "", ""]}')
    assert "event: complete" in text and time.perf_counter() - t < 60


def test_item36_threads_per_handler(ui_weights):
    """The app gives torch cores // CONCURRENCY threads, and every event shares one concurrency group.
    (Also: the garbage collector, off while the app starts, is on again once it is built.)"""
    import subprocess
    import sys
    import attn_demo.studio.guard as guard
    import attn_demo.studio.ui as ui
    code = ("import app, gc, os, torch; "
            "print(gc.isenabled(), gc.get_freeze_count() > 0, torch.get_num_threads(), os.cpu_count())")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "ATTN_DEMO_WEIGHTS": str(ui_weights)},
                       cwd=os.path.join(os.path.dirname(__file__), ".."))
    *_, gc_on, frozen, threads, cores = r.stdout.split()
    assert gc_on == frozen == "True", r.stdout
    assert int(threads) == max(1, int(cores) // ui.CONCURRENCY)
    assert guard.GROUP["concurrency_id"] == "studio"


def test_item16_finite_weights_that_blow_up_are_refused(tmp_path):
    g = tiny_generator()
    with torch.no_grad():
        g.out_bn.running_var.fill_(-1.0)   # finite, but sqrt(var + eps) is NaN: every image is NaN
    save_pretrained(tmp_path / "m", g)
    with pytest.raises(CheckpointError, match="NaN/Inf images"):
        load_pretrained(tmp_path / "m")


def test_item20_unreadable_file_skipped_with_reason(tmp_path, monkeypatch):
    from PIL import Image

    from attn_demo.imaging import folders as data
    Image.new("RGB", (16, 16), (1, 2, 3)).save(tmp_path / "a.png")
    Image.new("RGB", (16, 16), (1, 2, 3)).save(tmp_path / "locked.png")
    real_open = Image.open

    def guarded(path, *a, **k):
        if str(path).endswith("locked.png"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *a, **k)
    monkeypatch.setattr(data.Image, "open", guarded)
    result = data.load_folder(tmp_path, 8)
    assert len(result) == 1 and result.skipped == [(str(tmp_path / "locked.png"), "unreadable (permission denied)")]


def test_item35_cache_files_are_deleted(tmp_path):
    from attn_demo.studio.core import Studio
    from attn_demo.studio.ui import build_demo
    from conftest import free_port
    weights = tmp_path / "w"
    make_model_dir(weights / "tiny32")
    demo = build_demo(Studio(find_models(weights), device="cpu"), cache=(1, 1))
    demo.queue()
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        import re
        from pathlib import Path
        files = []
        for seed in range(3):
            _, text = raw_call(url, "generate", f'{{"data": ["tiny32", {seed}, 1.0, "", ""]}}')
            files += [Path(p) for p in re.findall(r'"path":\s*"([^"]+\.png)"', text)]
        assert files and all(p.exists() for p in files)
        deadline = time.time() + 30
        while time.time() < deadline and any(p.exists() for p in files):
            time.sleep(0.5)
        assert not any(p.exists() for p in files), "delete_cache did not remove old files"
    finally:
        demo.close()


def test_a_full_disk_is_said_plainly_in_the_studio_and_the_cli(tmp_path, model_dir, monkeypatch, capsys):
    """An export on a full disk: the studio's guard and the CLI say the disk is full in one line
    (not "internal error (OSError)"); any other OSError is still a bug with its traceback."""
    import errno

    import attn_demo.studio.guard as guard
    from attn_demo.cli import main

    def export():
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "a.png"))
    with pytest.raises(guard.gr.Error) as e:
        guard.guard(export)()
    assert "disk is full" in e.value.message and "a.png" in e.value.message and "internal" not in e.value.message

    def broken():
        raise OSError(errno.EIO, "Input/output error")
    with pytest.raises(guard.gr.Error, match="internal error"):
        guard.guard(broken)()

    from PIL import Image
    real_save = Image.Image.save

    def full_save(self, fp, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(fp))
    monkeypatch.setattr(Image.Image, "save", full_save)
    out = tmp_path / "x.png"
    assert main(["generate", "--weights", str(model_dir), "--seed", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "disk is full" in err and "Traceback" not in err
    monkeypatch.setattr(Image.Image, "save", real_save)

"""Goals for the surfaces built since 2026-11-21 (issue #37), run in-process on the studio:

    python scripts/reliability uploads     # hostile files, phone-size photos, an inversion cancelled under load
    python scripts/reliability exports     # data-set zips: a full disk half-way (a tiny tmpfs), a second export
                                           # into the same folder, an interrupted zip; image exports
    python scripts/reliability textures    # texture and material exports on a full disk, large canvases at once
    python scripts/reliability links       # share links and kept views: forged queries and canvas states
    python scripts/reliability interventions   # forged iv=/vs= links and states, users at once, D's view
                                               # (interventions.py)

Each builds the studio (attn_demo/studio/core.py) on --weights as app.py does, calls the same methods
the page and the API call, and checks: only our clear errors (AttnDemoError) come back, each fast
and within a memory bound; nothing half-written is left where a user or the server would read it;
the studio still answers afterwards. tests/scripts/test_reliability_surfaces.py runs each in seconds.
"""
from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import random
import resource
import shutil
import struct
import subprocess
import tempfile
import threading
import time
import zipfile
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image

from .common import criterion, r, result

MB = 2 ** 20


def _studio(weights: Path, export_dir: Path):
    from attn_demo.serving.loader import find_models
    from attn_demo.studio.core import Studio
    return Studio(find_models(Path(weights), kind=None), device="cpu", export_dir=export_dir)


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _classify(fn) -> tuple[str, str, float]:
    """Run fn(): ("ok" | "clean" (an AttnDemoError) | "disk" (a full disk, which the studio's guard
    and the CLI say in one line: attn_demo/errors.disk_full_message) | "other", message, seconds)."""
    from attn_demo.errors import AttnDemoError, disk_full_message, is_disk_full
    t = time.perf_counter()
    try:
        fn()
        kind, msg = "ok", ""
    except AttnDemoError as e:
        kind, msg = "clean", str(e)
    except OSError as e:
        if not is_disk_full(e):
            kind, msg = "other", f"{type(e).__name__}: {e}"
        else:
            kind, msg = "disk", disk_full_message(e)
    except Exception as e:  # noqa: BLE001 - what the goal counts
        kind, msg = "other", f"{type(e).__name__}: {e}"
    return kind, msg[:200], time.perf_counter() - t


# ------------------------------------------------------------------ hostile files
def _png(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def _png_header(width: int, height: int, extra: bytes = b"") -> bytes:
    """A PNG that declares width x height and holds (almost) nothing."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + extra
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


def hostile_files(rng: np.random.Generator) -> dict[str, bytes]:
    """Files a hostile or careless user uploads, each to be refused with a reason."""
    rgb = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    png, jpeg = _png(rgb), io.BytesIO()
    Image.fromarray(rgb).save(jpeg, format="JPEG")
    jpeg = jpeg.getvalue()
    bomb = io.BytesIO()
    Image.new("L", (12000, 12000)).save(bomb, format="PNG")          # 144 Mpx of zeros in ~150 KB
    gif_bomb = io.BytesIO()
    Image.new("P", (16000, 16000)).save(gif_bomb, format="GIF")
    return {
        "empty": b"", "text": b"hello world\n" * 50, "html": b"<html><script>alert(1)</script></html>",
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/passwd"/></svg>',
        "zip renamed .png": _zip_bytes(), "random bytes": rng.bytes(4096),
        "truncated PNG": png[:len(png) // 3], "truncated JPEG": jpeg[:len(jpeg) // 2],
        "PNG magic only": png[:16], "PNG bomb 12000x12000": bomb.getvalue(), "GIF bomb 16000x16000": gif_bomb.getvalue(),
        "declared 100000x100000": _png_header(100_000, 100_000), "declared 2^31 wide": _png_header(2 ** 31 - 1, 1),
        "extreme aspect 60000x40": _png_header(60_000, 40), "one pixel": _png(rgb[:1, :1]),
        "huge text chunk": _png_header(64, 64, struct.pack(">I", 2 ** 31 - 1) + b"tEXt"),
    }


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "x" * 1000)
    return buf.getvalue()


def phone_photo(width: int = 4032, height: int = 3024, quality: int = 60, orientation: int = 6) -> bytes:
    """A phone-size JPEG: smooth content (as a photo compresses), EXIF orientation set."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([(x / width * 255), (y / height * 255), ((x + y) / (width + height) * 255)], -1).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality, exif=exif)
    return buf.getvalue()


# ------------------------------------------------------------------ uploads and inversion
def uploads(weights: Path = Path("weights"), model: str | None = None, max_s: float = 5.0, max_mb: float = 300.0,
            cancel_after: int = 3, load_threads: int = 2, log=print) -> dict:
    """Uploads and inversion: hostile files each refused with a reason in <= max_s and <= max_mb more
    peak memory; a phone-size photo (12 Mpx JPEG at quality 92, EXIF-rotated, under the app's
    UPLOAD_MB upload cap) loads; an inversion cancelled while others and renders run stops, and the next one works."""
    from attn_demo.serving.engine import RenderArgs
    from attn_demo.studio.pictures import PictureHandlers
    from attn_demo.studio.view import View
    tmp = Path(tempfile.mkdtemp(prefix="attn-rel-uploads-"))
    try:
        studio = _studio(weights, tmp / "export")
        model = model or studio.models[0]
        engine = studio.engine(model)
        label = engine.class_names[0] if engine.cfg.num_classes else None
        view = View(model, RenderArgs(seed=1, psi=0.8, label=label))
        rng = np.random.default_rng(0)
        from attn_demo.imaging.folders import UPLOAD_MB, load_upload
        files = hostile_files(rng)                 # making the bombs takes memory: before the baseline
        base = _maxrss_mb()
        cases = {}
        for name, data in files.items():
            kind, msg, s = _classify(lambda: load_upload(data, engine.cfg.resolution))
            cases[name] = {"outcome": kind, "s": r(s), "message": msg, "bytes": len(data)}
            log(f"uploads: {name}: {kind} in {s:.2f} s: {msg[:80]}")
        peak = _maxrss_mb() - base
        not_clean = {k: v for k, v in cases.items() if v["outcome"] != "clean"}
        slow = {k: v["s"] for k, v in cases.items() if v["s"] > max_s}
        # a phone-size photo
        photo = phone_photo(quality=92)               # as a phone saves it (the app takes up to UPLOAD_MB)
        t = time.perf_counter()
        kind, msg, _ = _classify(lambda: load_upload(photo, engine.cfg.resolution))
        photo_s = time.perf_counter() - t
        # cancel under load: renders and a second inversion run meanwhile
        handlers = PictureHandlers(studio)
        target = _png(engine.render(RenderArgs(seed=3, psi=0.8, label=label)).image)
        stop = threading.Event()
        renders = {"n": 0, "errors": 0}

        def load():
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    studio.render(model, RenderArgs(seed=10_000 + i, psi=0.8, label=label))
                    renders["n"] += 1
                except Exception:  # noqa: BLE001
                    renders["errors"] += 1
        loaders = [threading.Thread(target=load, daemon=True) for _ in range(load_threads)]
        for th in loaders:
            th.start()
        seen, outcome = [], {}

        def progress(p, desc=None):
            seen.append(p)
            if len(seen) == cancel_after:
                outcome["cancel_at"] = time.perf_counter()
                handlers.on_cancel(SimpleNamespace(session_hash="alice"))

        def alice():
            returned = []
            kind, msg, s = _classify(lambda: returned.append(
                handlers.on_invert(target, view, SimpleNamespace(session_hash="alice"), progress)))
            if kind == "ok" and "cancelled" in str(returned[0][-1]).lower():
                kind, msg = "clean", str(returned[0][-1])    # a cancel answered as news, not as an error
            outcome["alice"] = (kind, msg, s)
            outcome["alice_end"] = time.perf_counter()

        def bob():
            outcome["bob"] = _classify(lambda: handlers.on_invert(target, view, SimpleNamespace(session_hash="bob"),
                                                                  lambda p, desc=None: None))
        ta, tb = threading.Thread(target=alice), threading.Thread(target=bob)
        ta.start()
        tb.start()
        ta.join(600)
        tb.join(600)
        stop.set()
        for th in loaders:
            th.join(60)
        after = _classify(lambda: studio.render(model, RenderArgs(seed=42, psi=0.8, label=label)))
        cancel_s = outcome.get("alice_end", 0) - outcome.get("cancel_at", 0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    alice_kind, alice_msg, _ = outcome.get("alice", ("missing", "", 0))
    crit = [
        criterion("U1", "hostile files refused with a reason (AttnDemoError)", f"{len(cases)}/{len(cases)}",
                  f"{len(cases) - len(not_clean)}/{len(cases)}", not not_clean),
        criterion("U1", f"refusals slower than {max_s} s", "0", len(slow), not slow),
        criterion("U1", "peak memory added by the hostile files (MB)", f"<= {max_mb}", r(peak, 1), peak <= max_mb),
        criterion("U2", f"a 4032 x 3024 phone JPEG (quality 92, EXIF orientation 6) under the {UPLOAD_MB} MB "
                  "upload cap loads", "loads", f"{kind} in {photo_s:.2f} s, {len(photo) / MB:.2f} MB",
                  kind == "ok" and len(photo) < UPLOAD_MB * MB),
        criterion("U3", "an inversion cancelled under load stops with 'cancelled'", "cancelled",
                  alice_msg[:60] or alice_kind, alice_kind == "clean" and "cancel" in alice_msg),
        criterion("U3", "seconds from the cancel to the stop", "<= 5", r(cancel_s, 2), 0 <= cancel_s <= 5),
        criterion("U3", "the other user's inversion and the renders meanwhile", "complete, 0 errors",
                  f"{outcome.get('bob', ('missing',))[0]}, {renders['n']} renders, {renders['errors']} errors",
                  outcome.get("bob", ("",))[0] == "ok" and renders["errors"] == 0),
        criterion("U3", "the studio renders afterwards", "ok", after[0], after[0] == "ok"),
    ]
    figures = {"cases": cases, "phone_photo": {"bytes": len(photo), "seconds": r(photo_s, 2), "outcome": kind},
               "renders_during_inversions": renders["n"],
               "progress_calls_before_cancel": cancel_after}
    notes = [f"The phone-size photo here is synthetic and smooth ({len(photo) / MB:.2f} MB at quality 92); a real "
             f"phone JPEG of 2-5 MB is also under app.py's max_file_size of {UPLOAD_MB} MB. A larger upload is refused "
             "by Gradio (HTTP 413, as path-probes/R7 checks) before any handler runs."]
    return result("uploads", "Uploads and inversion (issue #37)", crit, figures,
                  {"weights": str(weights), "model": model, "max_s": max_s, "max_mb": max_mb,
                   "load_threads": load_threads}, notes)


# ------------------------------------------------------------------ full disks
@contextlib.contextmanager
def small_disk(size_kb: int):
    """A folder on a tmpfs of size_kb (root, Linux); None where mounting is not allowed."""
    root = Path(tempfile.mkdtemp(prefix="attn-rel-disk-"))
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(root)],
                        capture_output=True).returncode == 0 if shutil.which("mount") else False
    try:
        yield root if ok else None
    finally:
        if ok:
            subprocess.run(["umount", str(root)], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def full_after(n_bytes: int):
    """Every file write in this process fails with ENOSPC once n_bytes were written (a patched
    io.FileIO.write / os.write: the fallback where no tmpfs can be mounted)."""
    state = {"left": n_bytes}
    real_write = io.FileIO.write

    class Full(io.FileIO):
        pass

    def write(self, b):
        n = len(memoryview(b))
        if state["left"] - n < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        state["left"] -= n
        return real_write(self, b)
    io.FileIO.write = write          # type: ignore[method-assign]
    try:
        yield state
    finally:
        io.FileIO.write = real_write  # type: ignore[method-assign]


def _leftovers(root: Path) -> list[str]:
    """Half-written files: temp names, and zips that do not read back whole."""
    bad = []
    for p in Path(root).rglob("*"):
        if p.is_file() and (p.name.endswith((".tmp", ".part")) or ".tmp" in p.suffixes):
            bad.append(str(p.relative_to(root)))
        elif p.is_file() and p.suffix == ".zip":
            try:
                with zipfile.ZipFile(p) as z:
                    if z.testzip() is not None:
                        bad.append(str(p.relative_to(root)))
            except (zipfile.BadZipFile, OSError):
                bad.append(str(p.relative_to(root)))
    return bad


def _read_labels(folder: Path) -> list[dict]:
    import csv
    with open(Path(folder) / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))


def _fill(root: Path, leave: int) -> None:
    """Fill the disk under root until about `leave` bytes are free."""
    free = shutil.disk_usage(root).free
    if free > leave:
        with open(root / "filler", "wb") as f:
            f.write(b"\0" * (free - leave))


def _tree_bytes(paths) -> int:
    return sum(Path(p).stat().st_size for p in paths)


def exports(weights: Path = Path("weights"), model: str | None = None, per_class: int = 16, disk_kb: int = 64,
            log=print) -> dict:
    """Data-set exports: a disk that fills up half-way (a disk_kb tmpfs, else a patched write), a
    second export into the same folder while the first runs, a zip interrupted half-way, and the
    image export on a full disk: a clear error, nothing half-written, the same export finishes after."""
    from attn_demo.serving import dataset
    from attn_demo.serving.engine import RenderArgs
    from attn_demo.studio.view import View
    tmp = Path(tempfile.mkdtemp(prefix="attn-rel-exports-"))
    figures: dict = {}
    try:
        studio = _studio(weights, tmp / "export")
        model = model or studio.models[0]
        engine = studio.engine(model)
        label = engine.class_names[0] if engine.cfg.num_classes else None
        view = View(model, RenderArgs(seed=5, psi=0.8, label=label), click=(100, 100))
        plan = dataset.plan_dataset(engine, per_class)
        # 1. a full disk half-way through a data set: the disk has room when the export starts (its
        # own check passes) and fills up after the first batch (another process took the space)
        batches = -(-len(plan.files()) // dataset.BATCH)
        need = len(plan.files()) * (4 * (plan.resolution * plan.scale) ** 2 + 2048) * dataset.DISK_MARGIN
        with small_disk(max(disk_kb, int(need * 1.5) // 1024 + 64)) as disk:
            how = "tmpfs" if disk is not None else "patched write"
            out = (disk or tmp / "patched") / "ds"
            budget = {"left": None}

            def fill_up(p):
                if disk is not None:
                    _fill(disk, 2048)
                elif budget["left"] is not None:
                    budget["left"]["left"] = 2048
            if disk is None:
                with full_after(1 << 40) as state:
                    budget["left"] = state
                    full = _classify(lambda: dataset.export_dataset(engine, plan, out, progress=fill_up))
            else:
                full = _classify(lambda: dataset.export_dataset(engine, plan, out, progress=fill_up))
            half = _leftovers(out) if out.exists() else []
            whole = sum(1 for p in out.rglob("*.png")) if out.exists() else 0
            for p in out.rglob("*.png"):
                np.asarray(Image.open(p))                     # each one decodes whole (raises otherwise)
            if disk is not None:
                (disk / "filler").unlink(missing_ok=True)     # "free some space", run the same export again
            resumed = _classify(lambda: dataset.export_dataset(engine, plan, out))
            finished = len(_read_labels(out)) if resumed[0] == "ok" else 0
        figures["disk_full"] = {"how": how, "outcome": full[0], "message": full[1], "whole_pngs": whole,
                                "half_written": half, "finished_after": finished, "batches": batches}
        log(f"exports: full disk ({how}): {full[0]}: {full[1][:80]}; {whole} whole PNGs; leftovers {half}")
        # 2. a second export into the same folder while the first runs
        same = tmp / "same"
        outs = []
        threads = [threading.Thread(target=lambda: outs.append(_classify(
            lambda: dataset.export_dataset(engine, plan, same)))) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        rows = _read_labels(same) if (same / dataset.LABELS).exists() else []
        pngs = sorted(same.rglob("*.png"))
        second = {"outcomes": [o[0] for o in outs], "messages": [o[1] for o in outs], "rows": len(rows),
                  "files": len(pngs), "expected": len(plan.files()), "half_written": _leftovers(same),
                  "distinct_rows": len({row["file"] for row in rows})}
        figures["second_export"] = second
        log(f"exports: two exports into one folder: {second}")
        # 3. a zip interrupted half-way (the studio's data-set zip, then the image export's zip)
        calls = {"n": 0}
        real = zipfile.ZipFile.write

        def broken(self, *a, **k):
            calls["n"] += 1
            if calls["n"] == 3:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(self, *a, **k)
        zipfile.ZipFile.write = broken        # type: ignore[method-assign]
        try:
            zipped = _classify(lambda: studio.dataset_zip(view, per_class))
            calls["n"] = 0
            image_zip = _classify(lambda: studio.export(view))
        finally:
            zipfile.ZipFile.write = real      # type: ignore[method-assign]
        left = _leftovers(studio.files.root)
        again = _classify(lambda: studio.dataset_zip(view, per_class))
        figures["interrupted_zip"] = {"dataset": zipped[:2], "image_export": image_zip[:2], "half_written": left,
                                      "after": again[0]}
        log(f"exports: interrupted zips: {figures['interrupted_zip']}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    d, s, z = figures["disk_full"], figures["second_export"], figures["interrupted_zip"]
    crit = [
        criterion("E1", f"disk full after the first of {d['batches']} batches ({d['how']}): a clear error",
                  "AttnDemoError naming the disk", d["message"][:80], d["batches"] > 1 and d["outcome"] == "clean"
                  and "space" in d["message"].lower() and 0 < d["whole_pngs"] < d["finished_after"]),
        criterion("E1", "half-written files left", "0", len(d["half_written"]), not d["half_written"]),
        criterion("E1", "the same export finishes once there is room (rows)", str(len(plan.files())),
                  d["finished_after"], d["finished_after"] == len(plan.files())),
        criterion("E2", "two exports into one folder at once: no other error, no half-written file",
                  "ok or a clear refusal", s["outcomes"], all(o in ("ok", "clean") for o in s["outcomes"])
                  and "ok" in s["outcomes"] and not s["half_written"]),
        criterion("E2", "the folder afterwards: one row per file, no duplicates", f"{s['expected']} rows and files",
                  f"{s['rows']} rows, {s['distinct_rows']} distinct, {s['files']} files",
                  s["rows"] == s["distinct_rows"] == s["files"] == s["expected"]),
        criterion("E3", "interrupted zips (data set, image export): errors, and no half-written zip or temp file",
                  "0 left", z["half_written"], not z["half_written"] and z["dataset"][0] != "ok"
                  and z["image_export"][0] in ("clean", "disk")),
        criterion("E3", "the same data-set zip afterwards", "ok", z["after"], z["after"] == "ok"),
    ]
    return result("exports", "Data-set and image exports (issue #37)", crit, figures,
                  {"weights": str(weights), "model": model, "per_class": per_class, "disk_kb": disk_kb})


# ------------------------------------------------------------------ textures and materials
def textures(weights: Path = Path("weights"), side: int | None = None, disk_kb: int = 256, clients: int = 3,
             large_side: int | None = None, log=print) -> dict:
    """Texture and material exports of a canvas model on a full disk (a clear error, nothing
    half-written, the previous export whole), and `clients` users asking for a large canvas at once
    (the gate: one paints, one waits, the rest get a clear 'busy' message; memory bounded)."""
    from attn_demo.serving import gate
    from attn_demo.studio.textures import material as mat
    tmp = Path(tempfile.mkdtemp(prefix="attn-rel-textures-"))
    figures: dict = {}
    try:
        studio = _studio(weights, tmp / "export")
        desk = studio.canvas
        if not desk.models:
            raise SystemExit(f"no canvas model in {weights}")
        v0 = desk.default_view()
        engine = desk.engine(v0.model)
        side = side or 4 * engine.cell
        v = desk.view(v0, v0.model, 3, side, side, "both", 1.0, v0.label)
        good = desk.export(v)
        good_bytes = {p.name: p.read_bytes() for p in good}
        leave = _tree_bytes(good) // 2                    # room for half an export
        with small_disk(max(disk_kb, 4 * _tree_bytes(good) // 1024)) as disk:
            how = "tmpfs" if disk is not None else "patched write"
            from attn_demo.studio.files import ExportFolder
            desk.files, saved = ExportFolder(disk or tmp / "full"), desk.files
            try:
                outcomes = {}
                if disk is not None:
                    _fill(disk, leave)
                for name, fn in (("texture export", lambda: desk.export(desk.view(v, v.model, 4, side, side, "both",
                                                                                   1.0, v.label))),
                                 ("material set", lambda: mat.export_material(desk, v)),
                                 ("material + GLB", lambda: mat.export_material(desk, v, shape="sphere"))):
                    if disk is None:
                        with full_after(leave):
                            outcomes[name] = _classify(fn)
                    else:
                        outcomes[name] = _classify(fn)
                half = _leftovers(desk.files.root)
            finally:
                desk.files = saved
        intact = all(p.read_bytes() == good_bytes[p.name] for p in good)
        figures["disk_full"] = {"how": how, "outcomes": outcomes, "half_written": half}
        log(f"textures: full disk ({how}): {outcomes}; leftovers {half}")
        # large canvases at once
        large_side = large_side or max(engine.cell, int((gate.LARGE.large * 4) ** 0.5) // engine.cell * engine.cell)
        base = _rss_mb()
        peak = {"mb": base}
        stop = threading.Event()

        def sample():
            while not stop.wait(0.05):
                peak["mb"] = max(peak["mb"], _rss_mb())
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        outs = []
        barrier = threading.Barrier(clients)

        def user(i):
            barrier.wait()
            outs.append(_classify(lambda: desk.render(desk.view(v, v.model, 100 + i, large_side, large_side,
                                                                "both", 1.0, v.label))))
        threads = [threading.Thread(target=user, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(900)
        stop.set()
        sampler.join()
        after = _rss_mb()
        figures["large_at_once"] = {"side": large_side, "outcomes": [o[0] for o in outs],
                                    "messages": sorted({o[1] for o in outs if o[1]}),
                                    "seconds": [r(o[2], 1) for o in outs], "rss_before_mb": r(base, 1),
                                    "rss_peak_mb": r(peak["mb"], 1), "rss_after_mb": r(after, 1),
                                    "cache_mb": r(desk._renders.nbytes / MB, 1), "cache_max_mb": desk._renders.max_bytes / MB}
        log(f"textures: {clients} x {large_side}² at once: {figures['large_at_once']}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    d, big = figures["disk_full"], figures["large_at_once"]
    ran = big["outcomes"].count("ok")
    busy = [m for m in big["messages"] if "busy" in m]
    slots = gate.LARGE.slots + gate.LARGE.waiting
    crit = [
        criterion("T1", f"texture and material exports on a full disk ({d['how']}): the user reads that the "
                  "disk is full", "'disk' for each", {k: o[0] for k, o in d["outcomes"].items()},
                  all(o[0] == "disk" and "disk is full" in o[1] for o in d["outcomes"].values())),
        criterion("T1", "half-written zips, GLBs or temp files left", "0", len(d["half_written"]), not d["half_written"]),
        criterion("T1", "the previous export is whole", "yes", intact, intact),
        criterion("T2", f"{clients} users ask for {big['side']}² at once: painted, the rest told 'busy'",
                  f"<= {slots} painted, others BusyError", big["outcomes"],
                  1 <= ran <= slots and all(o in ("ok", "clean") for o in big["outcomes"])
                  and (ran == clients or bool(busy))),
        criterion("T2", "render cache within its byte bound (MB)", f"<= {big['cache_max_mb']:.0f}", big["cache_mb"],
                  big["cache_mb"] <= big["cache_max_mb"]),
    ]
    notes = ["A full disk during a texture export is an OSError (ENOSPC), which the studio's guard and the CLI "
             "turn into one line (attn_demo/errors.disk_full_message: 'the disk is full (...): this was not saved, "
             "and what was saved before is whole; free some space and try again'); the files of that export stay "
             "in their own fresh folder, which nothing serves and the export folder's pruning removes."]
    return result("textures", "Texture and material exports; large canvases at once (issue #37)", crit, figures,
                  {"weights": str(weights), "side": side, "disk_kb": disk_kb, "clients": clients,
                   "gate": {"slots": gate.LARGE.slots, "waiting": gate.LARGE.waiting, "large_px": gate.LARGE.large}},
                  notes)


# ------------------------------------------------------------------ share links and kept views
HOSTILE_VALUES = ["", "nan", "NaN", "inf", "-inf", "1e309", "-1", "0", "1.5", "4294967296", "18446744073709551615",
                  "9" * 400, "0x10", "1_000", " 7", "７", "../../etc/passwd", "/etc/passwd", "%00", "\x00", "<script>",
                  "a" * 10_000, "[]", "{}", "null", "true", "1,2,3", ",".join(["1"] * 5000), "G999", "-0", "+5",
                  "AAAA", "====", "éè", "\u202e", "1e-400"]


def _queries(rng: random.Random, keys: list[str], models: list[str], n: int) -> list[str]:
    from urllib.parse import quote
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randrange(1, 8)):
            k = rng.choice(keys + ["", "model", "model", "__proto__", "x" * 300])
            v = rng.choice(HOSTILE_VALUES + models + [str(rng.randrange(-10, 600))])
            parts.append(f"{quote(k)}={quote(v)}" if rng.random() < 0.9 else f"{k}={v}")
        q = "&".join(parts)
        out.append(rng.choice(["?", "", "??", "#"]) + q)
    return out


def links(weights: Path = Path("weights"), queries: int = 500, states: int = 200, max_s: float = 2.0, seed: int = 0,
          log=print) -> dict:
    """Share links and kept views (history, favourites) with forged queries, and canvas states with
    forged fields: each opens a view or is refused with our clear error within max_s; the studio
    renders the same picture before and after."""
    from attn_demo.serving.engine import RenderArgs
    from attn_demo.studio.events import Handlers
    from attn_demo.studio.view import View, query_of
    tmp = Path(tempfile.mkdtemp(prefix="attn-rel-links-"))
    try:
        studio = _studio(weights, tmp / "export")
        model = studio.models[0]
        engine = studio.engine(model)
        label = engine.class_names[0] if engine.cfg.num_classes else None
        default = View(model, RenderArgs(seed=42, psi=0.8, label=label), click=(10, 10))
        before = studio.render(model, default.args).image.tobytes()
        handlers = Handlers(studio, default)
        real = query_of(default)
        keys = sorted({kv.split("=")[0] for kv in real.lstrip("?").split("&")} | {"latent", "sliders", "class",
                                                                                "layer", "head", "mode", "x", "y"})
        rng = random.Random(seed)
        counts = {"ok": 0, "clean": 0, "disk": 0, "other": 0}
        others, slowest = [], 0.0
        for q in _queries(rng, keys, studio.models, queries) + [real]:
            kind, msg, s = _classify(lambda: handlers.on_open(q))
            counts[kind] += 1
            slowest = max(slowest, s)
            if kind == "other" and len(others) < 10:
                others.append({"query": q[:200], "error": msg})
        # canvas states (the Textures tab's import and kept views)
        ccounts = {"ok": 0, "clean": 0, "disk": 0, "other": 0}
        desk = studio.canvas
        if desk.models:
            v = desk.default_view()
            good = desk.state_dict(v)
            pool = [None, -1, 1e309, float("nan"), "x" * 1000, [], {}, [1, 2], 2 ** 64, 4096, 8192, "both", True,
                    [[0, 0]] * 3, {"cells": [[0, 0]], "latents_base64": "AAAA", "dtype": "float32",
                                   "z_local": engine.cfg.z_dim}]
            for _ in range(states):
                st = json.loads(json.dumps(good))
                for _ in range(rng.randrange(1, 4)):
                    st[rng.choice(list(st) + ["extra"])] = rng.choice(pool)
                kind, msg, s = _classify(lambda: desk.parse_state(st))
                ccounts[kind] += 1
                slowest = max(slowest, s)
                if kind == "other" and len(others) < 20:
                    others.append({"state": json.dumps(st, default=str)[:200], "error": msg})
        after = studio.render(model, default.args).image.tobytes()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    crit = [
        criterion("L1", "forged queries: outcomes other than a view or our clear error", "0", counts["other"],
                  counts["other"] == 0),
        criterion("L1", "forged canvas states: outcomes other than a view or our clear error", "0", ccounts["other"],
                  ccounts["other"] == 0),
        criterion("L1", f"slowest answer (s)", f"<= {max_s}", r(slowest, 3), slowest <= max_s),
        criterion("L1", "the same view renders the same bytes afterwards", "identical", before == after,
                  before == after),
    ]
    return result("links", "Share links, kept views and canvas states (issue #37)", crit,
                  {"queries": counts, "canvas_states": ccounts, "others": others, "slowest_s": r(slowest, 3)},
                  {"weights": str(weights), "queries": queries, "states": states, "seed": seed})

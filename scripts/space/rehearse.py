"""Rehearse the Hugging Face Space here: the upload list alone, in an empty folder, run as a Space runs it.

    python scripts/space/rehearse.py                   # every check; exit 0 when all pass
    python scripts/space/rehearse.py --json out.json   # ... and the report as JSON
    python scripts/space/rehearse.py --load 20         # plus 20 s of the reliability mixed load, memory under it

It copies the files of upload_list.upload_list() (the README command's selection) into an empty
temporary folder, starts `python app.py` there with what a Gradio Space sets (SPACE_ID, SYSTEM=spaces,
GRADIO_SERVER_NAME=0.0.0.0, port 7860 or, when that port is taken here, a free one, HOME outside the
app folder) and checks that:

  - the page loads, and in headless Chromium the studio's first view is ready and a click on the
    image answers with its map; the /inspect endpoint answers through gradio_client;
  - every model the repository ships is listed and renders (image models through /generate, canvas
    models in the Textures tab);
  - the app writes nothing outside its folder and the temporary directory (a Python audit hook in
    the app's process logs every file opened for writing, made, moved or removed);
  - no request leaves the machine: none from the app (the hook logs every socket connection and
    host name lookup) and none from the page as a visitor sees it, inside the Space's huggingface.co
    page (Chromium's requests, recorded and aborted through Playwright); opened directly at its
    *.hf.space address, only Gradio's own Space header (GRADIO_SPACE_HEADER) may ask for more;
  - the server log has no traceback.

Any file the app needs that the list leaves out makes one of these fail (tests/scripts/test_space.py
checks that with a short list). It also measures the cold start (process start to the first page
and to the first image) and the memory at rest (RSS). Needs Debian's /usr/bin/chromium and playwright.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from upload_list import ROOT, upload_list  # noqa: E402

SPACE_PORT = 7860
SPACE_ID = "attn-demo/rehearsal"
CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run",
                # the Space's page (https://huggingface.co, served here by Playwright) embeds the app from
                # 127.0.0.1; Chromium's local-network protection would refuse that public -> local iframe,
                # which on a real Space is public -> public
                "--disable-features=LocalNetworkAccessChecks,PrivateNetworkAccessForNavigations,"
                "PrivateNetworkAccessForIframes,BlockInsecurePrivateNetworkRequests"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "0.0.0.0", "::1", "::", ""}
# What the app may write to besides its folder and the temporary directory.
WRITABLE_DEVICES = ("/dev/null",)

# Installed in the app's process (and any Python child) through PYTHONPATH: every write-like file
# operation and every connection or name lookup, one JSON line each, to ATTN_REHEARSAL_AUDIT.
AUDIT_HOOK = r'''
import json, os, sys
_path = os.environ.get("ATTN_REHEARSAL_AUDIT")
if _path:
    _log = open(_path, "a", buffering=1)
    _W = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def _abs(p):
        try:
            return os.path.abspath(os.fsdecode(p))
        except Exception:
            return repr(p)

    def _hook(event, args):
        try:
            if event == "open":
                path, mode, flags = (tuple(args) + (None, None))[:3]
                if path is None or isinstance(path, int):
                    return
                writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                         (isinstance(flags, int) and flags & _W)
                if writes:
                    _log.write(json.dumps(["write", _abs(path)]) + "\n")
            elif event in ("os.mkdir", "os.remove", "os.rmdir", "os.truncate", "os.symlink", "os.link"):
                _log.write(json.dumps([event, _abs(args[0])] + ([_abs(args[1])] if event in ("os.symlink", "os.link") else [])) + "\n")
            elif event == "os.rename":
                _log.write(json.dumps([event, _abs(args[0]), _abs(args[1])]) + "\n")
            elif event == "socket.connect":
                addr = args[1]
                _log.write(json.dumps(["connect", addr if isinstance(addr, str) else list(addr)[:2]]) + "\n")
            elif event == "socket.getaddrinfo":
                _log.write(json.dumps(["lookup", str(args[0])]) + "\n")
            elif event == "subprocess.Popen":
                _log.write(json.dumps(["popen", repr(args[1])[:300]]) + "\n")
        except Exception:
            pass

    sys.addaudithook(_hook)
'''


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
            return True
        except OSError:
            return False


def pick_port(wanted: int | None) -> tuple[int, str]:
    """7860 as on a Space; another free port (with a note) when this machine has 7860 taken."""
    if wanted:
        return wanted, f"port {wanted} (asked for)"
    if port_free(SPACE_PORT):
        return SPACE_PORT, f"port {SPACE_PORT}, as on a Space"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return port, f"port {port}: {SPACE_PORT} was taken on this machine"


def space_env(app_dir: Path, tmp: Path, home: Path, hook: Path, audit: Path, port: int) -> dict:
    """What a Gradio Space's container sets (SPACE_ID, SYSTEM=spaces, server name and port, HOME
    beside the app folder), plus the audit hook; nothing of this machine's environment but PATH,
    the locale and the thread count (a shared 2-core machine)."""
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "OMP_NUM_THREADS") if k in os.environ}
    owner, name = SPACE_ID.split("/")
    return {**keep, "HOME": str(home), "TMPDIR": str(tmp), "PYTHONPATH": str(hook),
            "PYTHONUNBUFFERED": "1", "ATTN_REHEARSAL_AUDIT": str(audit),
            "SPACE_ID": SPACE_ID, "SPACE_AUTHOR_NAME": owner, "SPACE_REPO_NAME": name,
            "SPACE_HOST": f"{owner}-{name}.hf.space", "SYSTEM": "spaces",
            "GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": str(port), "GRADIO_NUM_PORTS": "1"}


def shipped_models(weights: Path) -> dict[str, list[str]]:
    """The generator directories under `weights` (as the studio finds them: config.json and
    model.safetensors whose header says attn-demo-generator), image and canvas models apart."""
    from safetensors import safe_open
    out = {"image": [], "canvas": []}
    for d in sorted(Path(weights).iterdir()) if Path(weights).is_dir() else []:
        if not ((d / "config.json").is_file() and (d / "model.safetensors").is_file()):
            continue
        with safe_open(str(d / "model.safetensors"), "np") as f:
            if (f.metadata() or {}).get("format") != "attn-demo-generator":
                continue
        kind = json.loads((d / "config.json").read_text()).get("kind")
        out["canvas" if kind == "canvas" else "image"].append(d.name)
    return out


def rss_mb(pid: int) -> dict:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    get = {ln.split(":")[0]: int(ln.split()[1]) / 1024 for ln in status if ln.startswith(("VmRSS", "VmHWM"))}
    return {"rss_mb": round(get.get("VmRSS", 0), 1), "peak_mb": round(get.get("VmHWM", 0), 1)}


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


def wait_http(url: str, proc: subprocess.Popen, timeout: float) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return time.monotonic()
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.1)
    return None


def local(host: str | None) -> bool:
    return host is None or host in LOCAL_HOSTS or host.startswith("127.")


def outside(path: str, allowed: list[Path]) -> bool:
    if path.startswith(WRITABLE_DEVICES):
        return False
    p = Path(path)
    return not any(p == a or a in p.parents for a in allowed)


def read_audit(audit: Path, allowed: list[Path]) -> dict:
    writes, hosts, popens = set(), set(), []
    for line in audit.read_text().splitlines() if audit.exists() else []:
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        kind = ev[0]
        if kind == "connect":
            addr = ev[1]
            if isinstance(addr, list) and not local(str(addr[0])):
                hosts.add(f"{addr[0]}:{addr[1]}")
        elif kind == "lookup":
            if not local(ev[1]):
                hosts.add(ev[1])
        elif kind == "popen":
            popens.append(ev[1])
        else:
            for path in ev[1:]:
                if outside(path, allowed):
                    writes.add(f"{kind} {path}")
    return {"writes_outside": sorted(writes), "remote_hosts": sorted(hosts), "subprocesses": popens}


def check_api(url: str, models: dict, downloads: Path, report: dict, fail) -> None:
    """/generate for every image model, /inspect (a click) on the first, through gradio_client."""
    from gradio_client import Client
    client = Client(url, verbose=False, download_files=str(downloads))
    rendered = {}
    for name in models["image"]:
        cfg = json.loads((ROOT / "weights" / name / "config.json").read_text())
        label = "0" if cfg.get("num_classes") else ""
        t0 = time.perf_counter()
        try:
            image, info = client.predict(name, 7, 0.8, label, "", api_name="/generate")
            ok = Path(image).is_file() and info.get("model") == name
            rendered[name] = round(time.perf_counter() - t0, 2) if ok else "no image"
            if ok:
                report.setdefault("_first_image_at", time.monotonic())
        except Exception as e:                                  # noqa: BLE001 - reported, not raised
            rendered[name] = f"{type(e).__name__}: {str(e)[:200]}"
    report["generate_s"] = rendered
    for name, r in rendered.items():
        if not isinstance(r, float):
            fail(f"model {name} did not render through /generate: {r}")
    if models["image"]:
        name = models["image"][0]
        cfg = json.loads((ROOT / "weights" / name / "config.json").read_text())
        label = "0" if cfg.get("num_classes") else ""
        try:
            t0 = time.perf_counter()
            overlay, stats = client.predict(name, 7, 0.8, label, "", 16, 9, 0, "", "mean", "looks-at",
                                            api_name="/inspect")
            report["inspect_s"] = round(time.perf_counter() - t0, 2)
            if not (Path(overlay).is_file() and stats.get("map")):
                fail("/inspect answered without an overlay or a map")
        except Exception as e:                                  # noqa: BLE001
            fail(f"/inspect failed: {type(e).__name__}: {str(e)[:200]}")
    client.close()


def listed_models(url: str) -> dict[str, list]:
    """The choices of the page's two model lists (Gradio's /config)."""
    with urllib.request.urlopen(url + "config", timeout=30) as r:
        config = json.load(r)
    out = {}
    for c in config.get("components", []):
        props = c.get("props", {})
        if props.get("elem_id") in ("model_dd", "tex_model"):
            out[props["elem_id"]] = [ch[0] if isinstance(ch, (list, tuple)) else ch for ch in props.get("choices", [])]
    return out


# Gradio's own "Space header": opened at the Space's own address (*.hf.space) and not inside a
# huggingface.co page, Gradio's frontend loads two Google fonts for a small header and asks
# huggingface.co about the Space and its owner (templates/frontend, Index-*.js). Nothing of ours.
# The studio's first view has set every widget (the end of its load chain, events.wire).
READY = "() => window.__attnReady === true || (!!window.attnDemo && window.attnDemo.ready === true)"
GRADIO_SPACE_HEADER = ("https://fonts.googleapis.com/css2?", f"https://huggingface.co/api/spaces/{SPACE_ID}",
                       "https://huggingface.co/api/users/", "https://huggingface.co/api/organizations/")
SPACE_PAGE = f"https://huggingface.co/spaces/{SPACE_ID}"


def _open_page(browser, url: str, embedded: bool, remote: list, timeout: float):
    """A page on the app: embedded in the Space's page on huggingface.co (an iframe, as visitors see
    a Space; that page is served here by Playwright) or opened directly. Every request to a host
    other than this machine is recorded in `remote` and aborted: nothing leaves."""
    context = browser.new_context(viewport={"width": 1600, "height": 1200})

    def route(r):
        u = urlsplit(r.request.url)
        if embedded and r.request.url == SPACE_PAGE:
            return r.fulfill(content_type="text/html", body=(
                '<html><body style="margin:0"><iframe id="space" src="' + url + '" '
                'style="border:0;width:1600px;height:1200px"></iframe></body></html>'))
        if u.scheme in ("data", "blob") or local(u.hostname):
            return r.continue_()
        remote.append(r.request.url)
        return r.abort()
    context.route("**/*", route)
    page = context.new_page()
    page.goto(SPACE_PAGE if embedded else url, timeout=timeout * 1000)
    if not embedded:
        return context, page, page
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = next((f for f in page.frames if f.url.startswith(url)), None)
        if frame is not None:
            return context, page, frame
        page.wait_for_timeout(100)                  # (lets Playwright take in the frame's events)
    raise TimeoutError("the Space page's iframe never loaded the app")


def _image_loaded(frame, selector: str, old, timeout: float) -> bool:
    try:                                # (an image below the fold may load lazily: scroll to it)
        frame.wait_for_selector(selector, state="attached", timeout=timeout * 1000)
        frame.locator(selector).scroll_into_view_if_needed(timeout=timeout * 1000)
        frame.wait_for_function("([s, o]) => { const i = document.querySelector(s); "
                                "return !!i && i.complete && i.naturalWidth > 0 && i.src !== o }",
                                arg=[selector, old], timeout=timeout * 1000)
        return True
    except Exception:                                           # noqa: BLE001 - a timeout: reported
        return False


def in_own_thread(fn, *args):
    """fn(*args) in a thread of its own, its exception raised here: Playwright's sync API refuses a
    thread whose asyncio loop runs (a test session that already drives a browser has one)."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn(*args)
        except BaseException as e:                               # noqa: BLE001 - raised in the caller
            box["error"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def check_browser(url: str, models: dict, report: dict, fail, timeout: float = 90.0) -> None:
    """The page in headless Chromium, as a visitor sees the Space (inside its huggingface.co page):
    the first view gets ready, a click on the image answers, each canvas model paints in the Textures
    tab, and no request goes off this machine. Then the page opened directly (the *.hf.space
    address): only Gradio's Space header may reach out (GRADIO_SPACE_HEADER)."""
    from playwright.sync_api import sync_playwright
    embedded_remote, direct_remote = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            t0 = time.monotonic()
            context, page, frame = _open_page(browser, url, True, embedded_remote, timeout)
            frame.wait_for_function(READY, timeout=timeout * 1000)
            report["page_ready_s"] = round(time.monotonic() - t0, 2)
            # a click on the image (Gradio maps clientX to round((x - left) / r), r <= 1); the iframe
            # sits at the page's origin, so its coordinates are the page's
            g = frame.evaluate("""s => {const i=document.querySelector(s), r=i.getBoundingClientRect();
                return {x:r.x, y:r.y, w:r.width, h:r.height, nw:i.naturalWidth, nh:i.naturalHeight}}""",
                               "#gen_img img")
            px, py = g["nw"] // 3, g["nh"] // 2
            r = min(g["w"] / g["nw"], g["h"] / g["nh"], 1.0)
            ox, oy = g["x"] + (g["w"] - g["nw"] * r) / 2, g["y"] + (g["h"] - g["nh"] * r) / 2
            t0 = time.monotonic()
            page.mouse.click(math.ceil(ox + (px - 0.5) * r + 1e-6), math.ceil(oy + (py - 0.5) * r + 1e-6))
            try:
                frame.wait_for_function("p => document.querySelector('#click_info textarea').value.startsWith(p)",
                                        arg=f"x={px}, y={py}", timeout=timeout * 1000)
                report["browser_click_s"] = round(time.monotonic() - t0, 2)
            except Exception:                                   # noqa: BLE001
                fail(f"a click on the image at ({px}, {py}) got no answer in the page")
            painted = {}
            if models["canvas"]:
                frame.get_by_role("tab", name="Textures").click()
                for i, name in enumerate(models["canvas"]):
                    old = None
                    if i:                           # the tab opens on the first model's canvas
                        old = frame.evaluate("() => document.querySelector('#tex_img img')?.src ?? null")
                        frame.click("#tex_model input")
                        frame.get_by_role("option", name=name).click()
                        frame.click("#tex_paint")
                    painted[name] = _image_loaded(frame, "#tex_img img", old, timeout)
                    if not painted[name]:
                        fail(f"canvas model {name} did not paint in the Textures tab")
            report["textures_painted"] = painted
            context.close()
            # opened directly: Gradio's Space header may ask for fonts and the Space's details
            context, page, frame = _open_page(browser, url, False, direct_remote, timeout)
            frame.wait_for_function(READY, timeout=timeout * 1000)
            context.close()
        finally:
            browser.close()
    report["browser_remote_requests"] = {"in_the_space_page": embedded_remote, "opened_directly": direct_remote}
    if embedded_remote:
        fail(f"the page in the Space made {len(embedded_remote)} request(s) off this machine: {embedded_remote[:5]}")
    others = [u for u in direct_remote if not u.startswith(GRADIO_SPACE_HEADER)]
    if others:
        fail(f"the page opened directly made request(s) off this machine beyond Gradio's Space header: {others[:5]}")


def mixed_load(url: str, weights: Path, pid: int, seconds: float, clients: int) -> dict:
    """The reliability R1 mix (80 % /generate, 15 % /inspect, 5 % /grid of 4) from `clients`
    threads for `seconds`; RSS sampled each second."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from reliability.common import models_in
    from reliability.load import latency_figures, realistic_request, run_clients
    infos = models_in(weights)
    samples, stop = [], threading.Event()

    def sample():
        while not stop.wait(1.0):
            samples.append(rss_mb(pid)["rss_mb"])
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    deadline = time.monotonic() + seconds
    t0 = time.monotonic()
    records = run_clients(url, clients, lambda: time.monotonic() >= deadline,
                          lambda rng, last: realistic_request(infos, rng, (0.80, 0.15, 0.05), last))
    elapsed = time.monotonic() - t0
    stop.set()
    sampler.join()
    lat = latency_figures(records)
    return {"seconds": round(elapsed, 1), "clients": clients, "requests": lat["requests"], "ok": lat["ok"],
            "throughput_rps": round(lat["ok"] / elapsed, 2), "p50_s": lat.get("p50_s"), "p99_s": lat.get("p99_s"),
            "rss_mb_max": max(samples, default=None), "rss_mb_end": samples[-1] if samples else None}


def rehearse(files: list[str] | None = None, root: Path = ROOT, port: int | None = None, browser: bool = True,
             load_s: float = 0.0, clients: int = 16, start_timeout: float = 180.0, fail_fast: bool = False,
             log=print) -> dict:
    """Copy `files` (default: the upload list) from `root` into an empty folder, run the app there as
    a Space would, check it; returns the report, whose "failures" is empty when every check passed.
    fail_fast: after a failed start or model list, skip the slower checks (the API, the browser)."""
    root = Path(root).resolve()
    files = upload_list(root) if files is None else list(files)
    failures: list[str] = []
    report: dict = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                    "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                    "python": platform.python_version(), "files": len(files),
                    "bytes": sum((root / f).stat().st_size for f in files), "failures": failures}

    def fail(msg):
        log(f"FAIL: {msg}")
        failures.append(msg)

    expected = shipped_models(root / "weights")
    report["models"] = expected
    with tempfile.TemporaryDirectory(prefix="space-rehearsal-") as top:
        top = Path(top)
        app_dir, tmp, home, hook, downloads = (top / n for n in ("app", "tmp", "home", "hook", "client"))
        for d in (app_dir, tmp, home, hook, downloads):
            d.mkdir()
        for f in files:
            (app_dir / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / f, app_dir / f)
        (hook / "sitecustomize.py").write_text(AUDIT_HOOK)
        audit, server_log = top / "audit.jsonl", top / "server.log"
        port, report["port"] = pick_port(port)
        log(f"{len(files)} files ({report['bytes'] / 2 ** 20:.1f} MiB) in {app_dir}; {report['port']}")
        before = snapshot(app_dir)
        env = space_env(app_dir, tmp, home, hook, audit, port)
        url = f"http://127.0.0.1:{port}/"
        with open(server_log, "wb") as out:
            t0 = time.monotonic()
            proc = subprocess.Popen([sys.executable, "app.py"], cwd=app_dir, env=env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            try:
                up = wait_http(url, proc, start_timeout)
                if up is None:
                    fail(f"the app did not serve {url} within {start_timeout:.0f} s "
                         f"(exit code {proc.poll()}); its log ends: "
                         f"{server_log.read_text(errors='replace')[-1500:]}")
                else:
                    report["cold_start_to_page_s"] = round(up - t0, 2)
                    report["memory_after_start"] = rss_mb(proc.pid)
                    log(f"page served {report['cold_start_to_page_s']} s after start; {report['memory_after_start']}")
                    listed = listed_models(url)
                    report["listed"] = listed
                    if sorted(listed.get("model_dd", [])) != sorted(expected["image"]):
                        fail(f"image models listed {listed.get('model_dd')}, shipped {expected['image']}")
                    if sorted(listed.get("tex_model", [])) != sorted(expected["canvas"]):
                        fail(f"canvas models listed {listed.get('tex_model')}, shipped {expected['canvas']}")
                if up is not None and not (failures and fail_fast):
                    check_api(url, expected, downloads, report, fail)
                    if "_first_image_at" in report:     # the page, then a first /generate through the API
                        report["cold_start_to_first_image_s"] = round(report.pop("_first_image_at") - t0, 2)
                    if browser and not (failures and fail_fast):
                        try:
                            in_own_thread(check_browser, url, expected, report, fail)
                        except Exception as e:                  # noqa: BLE001 - a timeout: reported
                            fail(f"the browser check stopped: {type(e).__name__}: {str(e)[:300]}")
                    time.sleep(1.0)
                    report["memory_at_rest"] = rss_mb(proc.pid)
                    log(f"at rest after every check: {report['memory_at_rest']}")
                    if load_s > 0:
                        log(f"mixed load: {clients} clients for {load_s:.0f} s")
                        report["load"] = mixed_load(url, app_dir / "weights", proc.pid, load_s, clients)
                        log(f"under load: {report['load']}")
            finally:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
        text = server_log.read_text(errors="replace")
        report["server_log_tail"] = text[-2000:]
        if "Traceback (most recent call last)" in text:
            fail("the server log has a traceback: " + text[text.index("Traceback"):][:1500])
        seen = read_audit(audit, [app_dir, tmp])
        report.update(seen)
        if not audit.exists():
            fail("the audit hook did not run in the app's process")
        if seen["writes_outside"]:
            fail(f"the app wrote outside its folder and the temp dir: {seen['writes_outside'][:10]}")
        if seen["remote_hosts"]:
            fail(f"the app reached for hosts off this machine: {seen['remote_hosts']}")
        after = snapshot(app_dir)
        report["written_in_app_folder"] = sorted(f for f in after if after[f] != before.get(f))
        report["written_in_temp_dir"] = sorted(p.relative_to(tmp).as_posix().split("/")[0]
                                               for p in tmp.iterdir())
        report["home_left"] = sorted(p.relative_to(home).as_posix() for p in home.rglob("*"))
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=None, help=f"default {SPACE_PORT}, or a free one if it is taken")
    ap.add_argument("--no-browser", action="store_true", help="skip the Chromium checks")
    ap.add_argument("--load", type=float, default=0.0, metavar="SECONDS",
                    help="then run the reliability mixed load this long and sample memory")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--json", type=Path, help="write the report here")
    a = ap.parse_args(argv)
    report = rehearse(port=a.port, browser=not a.no_browser, load_s=a.load, clients=a.clients)
    shown = {k: v for k, v in report.items() if k != "server_log_tail"}
    print(json.dumps(shown, indent=1))
    if a.json:
        a.json.write_text(json.dumps(report, indent=1) + "\n")
    print("REHEARSAL " + ("PASSED" if not report["failures"] else f"FAILED: {len(report['failures'])} check(s)"))
    return 0 if not report["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())

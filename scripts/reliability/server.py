"""The real app as a subprocess, and a raw-HTTP client for its named endpoints.

    with AppServer(weights) as app:          # python app.py on a free port
        out = call(http, app.url, "generate", ["tiny32", 42, 0.8, "", ""])
        app.rss_mb(), app.fds(), app.disk_usage()

A call is POST /gradio_api/call/<endpoint> {"data": [...]} -> {"event_id"}, then
GET /gradio_api/call/<endpoint>/<event_id>, a server-sent-event stream that ends
with `event: complete` (data: the outputs) or `event: error`.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .common import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """`python app.py` with its own GRADIO_TEMP_DIR and export folder, on a free port."""

    def __init__(self, weights: Path, queue_size: int | None = None, ready_timeout: float = 180.0,
                 extra_env: dict | None = None):
        self.weights = Path(weights).resolve()
        self.queue_size = queue_size
        self.ready_timeout = ready_timeout
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "AppServer":
        self.workdir = Path(tempfile.mkdtemp(prefix="attn-reliability-"))
        # the export folder inside Gradio's cache, where the app puts it by default (app.py)
        self.temp_dir = self.workdir / "gradio-tmp"
        self.export_dir = self.temp_dir / "attn-demo-export"
        self.temp_dir.mkdir()
        self.log_path = self.workdir / "app.log"
        self.port = free_port()
        env = {**os.environ, "ATTN_DEMO_WEIGHTS": str(self.weights), "GRADIO_SERVER_PORT": str(self.port),
               "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_ANALYTICS_ENABLED": "False",
               "GRADIO_TEMP_DIR": str(self.temp_dir), "ATTN_DEMO_EXPORT_DIR": str(self.export_dir),
               "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **self.extra_env}
        if self.queue_size is not None:
            env["ATTN_DEMO_QUEUE_SIZE"] = str(self.queue_size)
        self._log = open(self.log_path, "wb")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}/"
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if self.proc.poll() is not None:
                self.__exit__(None, None, None)
                raise RuntimeError(f"app.py exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"app.py did not serve / within {self.ready_timeout} s:\n{self.log_tail()}")
            time.sleep(0.3)
        self.startup_s = time.perf_counter() - t0
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        self.final_log = self.log_text()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------ measurements
    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def disk_usage(self) -> dict:
        """Bytes and files under GRADIO_TEMP_DIR (Gradio's cache, without the export folder inside it)
        and the studio's export folder."""
        out = {}
        for name, root in (("gradio_temp", self.temp_dir), ("export", self.export_dir)):
            size = files = 0
            for dirpath, dirnames, names in os.walk(root):
                if Path(dirpath) == self.temp_dir and self.export_dir.parent == self.temp_dir:
                    dirnames[:] = [d for d in dirnames if d != self.export_dir.name]
                for n in names:
                    try:
                        size += os.lstat(os.path.join(dirpath, n)).st_size
                        files += 1
                    except OSError:       # deleted while we walk
                        pass
            out[name + "_bytes"], out[name + "_files"] = size, files
        out["total_bytes"] = out["gradio_temp_bytes"] + out["export_bytes"]
        return out

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return getattr(self, "final_log", "")

    def log_tail(self, n: int = 3000) -> str:
        return self.log_text()[-n:]


# ------------------------------------------------------------------ calls
@dataclass
class Outcome:
    endpoint: str
    kind: str                 # complete | error | queue_full | http | exception
    status: int | None
    seconds: float            # POST to the end of the stream (or to the refusal)
    text: str = ""
    data: object = None
    started: float = 0.0      # time.monotonic() at the POST
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.kind == "complete"


def call(http: httpx.Client, url: str, endpoint: str, data, timeout: float = 60.0, raw: str | None = None,
         session: str | None = None) -> Outcome:
    """One API call. `data` is the argument list (NaN/Infinity are sent as literals), or pass
    a hand-written body as `raw`. Without `session` Gradio opens a new session for the call
    (as curl does); with one, calls share it (as a gradio_client.Client does)."""
    payload = {"data": data} if session is None else {"data": data, "session_hash": session}
    body = raw if raw is not None else json.dumps(payload, allow_nan=True)
    started = time.monotonic()
    t0 = time.perf_counter()
    try:
        r = http.post(f"{url}gradio_api/call/{endpoint}", content=body,
                      headers={"Content-Type": "application/json"}, timeout=timeout)
        if r.status_code != 200:
            kind = "queue_full" if r.status_code == 503 and "queue is full" in r.text.lower() else "http"
            return Outcome(endpoint, kind, r.status_code, time.perf_counter() - t0, r.text, started=started)
        event_id = r.json()["event_id"]
        s = http.get(f"{url}gradio_api/call/{endpoint}/{event_id}", timeout=timeout)
        seconds = time.perf_counter() - t0
        event, payload = last_event(s.text)
        if s.status_code != 200:
            kind = "http"
        elif event == "complete":
            kind = "complete"
        elif event == "error" and "queue is full" in s.text.lower():
            kind = "queue_full"
        elif event == "error":
            kind = "error"
        else:
            kind = "http"          # the stream ended without a result
        return Outcome(endpoint, kind, s.status_code, seconds, s.text, payload, started=started)
    except (httpx.HTTPError, ValueError, KeyError) as e:
        return Outcome(endpoint, "exception", None, time.perf_counter() - t0, f"{type(e).__name__}: {e}",
                       started=started)


def last_event(text: str) -> tuple[str | None, object]:
    """The last `complete` or `error` event of an SSE stream, with its JSON data."""
    found: tuple[str | None, object] = (None, None)
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if event in ("complete", "error"):
            try:
                found = (event, json.loads("\n".join(data)) if data else None)
            except ValueError:
                found = (event, "\n".join(data))
    return found


def fetch_output_file(http: httpx.Client, out: Outcome, index: int = 0) -> bytes:
    """The bytes of a file output (a FileData with a url) of a completed call."""
    item = out.data[index]
    r = http.get(item["url"], timeout=30)
    r.raise_for_status()
    return r.content


def has_traceback(text: str) -> bool:
    return "Traceback" in text or 'File "' in text

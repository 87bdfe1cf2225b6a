"""The Hugging Face Space, everything up to the upload (issue #38): the card's metadata, the one
upload command and the files it sends, the ZeroGPU decorator off ZeroGPU, and the rehearsal
(scripts/space/rehearse.py): the upload list alone, in an empty folder, run as a Space runs it."""
import functools
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SPACE = ROOT / "scripts" / "space"
# Current flavours of the Hub's Spaces configuration reference (suggested_hardware).
HARDWARE = {"cpu-basic", "cpu-upgrade", "t4-small", "t4-medium", "l4x1", "l4x4", "a10g-small", "a10g-large",
            "a10g-largex2", "a10g-largex4", "a100-large", "v5e-1x1", "v5e-2x2", "v5e-2x4"}
COLOURS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}


def _load(name):
    if str(SPACE) not in sys.path:
        sys.path.insert(0, str(SPACE))
    spec = importlib.util.spec_from_file_location(name, SPACE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


uploads = _load("upload_list")


@functools.lru_cache(maxsize=1)
def upload_list() -> tuple[str, ...]:
    return tuple(uploads.upload_list())


def front_matter() -> dict:
    text = (ROOT / "README.md").read_text(encoding="utf8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def pinned(name: str) -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.fullmatch(rf"{re.escape(name)}==([\w.]+)\s*(#.*)?", line.strip())
        if m:
            return m.group(1)
    raise AssertionError(f"{name} is not pinned in requirements.txt")


def test_space_card_matches_requirements_and_the_hub_reference():
    from importlib.metadata import version

    from huggingface_hub import SpaceCard
    card = front_matter()
    assert card["sdk"] == "gradio"
    # sdk_version is the Gradio the Space installs: the pinned one, the one tested here
    assert card["sdk_version"] == pinned("gradio") == version("gradio")
    # a string (an unquoted 3.10 would read as the float 3.1), the Python tested here
    assert isinstance(card["python_version"], str)
    assert card["python_version"] == "{}.{}".format(*sys.version_info[:2])
    assert card["app_file"] == "app.py" and (ROOT / "app.py").is_file()
    assert card["suggested_hardware"] == "cpu-basic" and card["suggested_hardware"] in HARDWARE
    assert card["colorFrom"] in COLOURS and card["colorTo"] in COLOURS
    assert isinstance(card["short_description"], str) and len(card["short_description"]) <= 60
    assert "models" not in card          # the Hub's model ids; ours ship in the Space, not on the Hub
    # the code's licence on the card; the models' own licences in their cards, which travel along
    assert card["license"] == "mit"
    data = SpaceCard((ROOT / "README.md").read_text(encoding="utf8")).data
    assert data.sdk == "gradio" and data.app_file == "app.py" and data.license == "mit"
    sent = set(upload_list())
    licences = {"emoji32": "MIT", "emoji32-additive": "MIT", "emoji32-scaled4": "MIT", "textures64": "CC BY-SA 3.0"}
    for model, licence in licences.items():
        assert f"weights/{model}/README.md" in sent
        text = (ROOT / "weights" / model / "README.md").read_text()
        assert "## Licence and attribution" in text and licence in text.split("## Licence and attribution")[1]
    readme = (ROOT / "README.md").read_text(encoding="utf8")
    space = readme.split("## Run it as a Space")[1].split("\n## ")[0]
    assert "CC BY-SA 3.0" in space and "textures64" in space


def test_readme_command_is_the_one_the_upload_list_builds():
    readme = (ROOT / "README.md").read_text(encoding="utf8")
    section = readme.split("## Run it as a Space")[1].split("\n## ")[0]
    lines = [b.replace("\\\n", " ") for b in re.findall(r"```bash\n(.*?)```", section, re.S)]
    commands = [shlex.split(line) for block in lines for line in block.splitlines() if "hf upload" in line]
    assert len(commands) == 1, "one upload command"
    assert commands[0] == shlex.split(uploads.command())
    assert "git push" in section and "LFS" in section


def test_hf_upload_sends_exactly_the_upload_list(monkeypatch):
    """The README's command through the real `hf` CLI and HfApi.upload_folder, stopped where the
    commit would go out: the files it would send are upload_list(), which the rehearsal runs."""
    import huggingface_hub.cli.upload as cli_upload
    from huggingface_hub import HfApi
    from huggingface_hub.cli.hf import app
    sent, created = [], {}

    class Api(HfApi):
        def create_repo(self, repo_id, **kw):
            created.update(kw, repo_id=repo_id)
            return type("Url", (), {"repo_id": repo_id})()

        def _validate_yaml(self, content, repo_type=None, token=None):
            created["card_checked"] = repo_type          # (the Hub checks the card on upload)

        def create_commit(self, repo_id, operations, **kw):     # hf_xet missing: one commit
            sent.extend(op.path_in_repo for op in operations)
            return "https://huggingface.co/spaces/" + repo_id

    def pipelined(api, *, add_operations, delete_operations, repo_id, **kw):
        sent.extend(op.path_in_repo for op in add_operations)
        assert not delete_operations
        return "https://huggingface.co/spaces/" + repo_id

    monkeypatch.setattr(cli_upload, "get_hf_api", lambda token=None: Api(token=False))
    try:                                 # with hf_xet (2.4.0): a pipeline of commits
        import huggingface_hub._upload_pipeline as pipeline
        monkeypatch.setattr(pipeline, "pipelined_upload", pipelined)
    except ImportError:                  # a client without it makes one create_commit
        pass
    args = shlex.split(uploads.command("someone/attn-demo"))
    assert args[:2] == ["hf", "upload"]
    monkeypatch.chdir(ROOT)
    try:
        app(args[1:], standalone_mode=False, windows_expand_args=False)
    except SystemExit as e:
        assert not e.code
    expected = list(upload_list())
    assert sorted(sent) == expected
    assert created["repo_type"] == "space" and created["space_sdk"] == "gradio" and created["card_checked"] == "space"
    # what goes and what stays home
    assert {"README.md", "app.py", "requirements.txt", "weights/emoji32/model.safetensors",
            "weights/textures64/model.safetensors", "weights/feature_net/model.safetensors"} <= set(sent)
    assert not [f for f in sent if f.startswith(("tests/", "docs/", "assets/", "scripts/", "bench/", "data/",
                                                 ".venv/", ".git/", "runs/", "weights/feature_net64/"))
                or "__pycache__" in f or f.endswith((".pyc", ".pyi"))]


def test_this_repository_keeps_its_weights_out_of_lfs():
    """The weights stay real files in git, never LFS pointers: the upload sends them as they are."""
    attributes = ROOT / ".gitattributes"
    assert not attributes.exists() or "filter=lfs" not in attributes.read_text()
    for f in upload_list():
        if f.endswith((".safetensors", ".npz")):
            with open(ROOT / f, "rb") as fh:
                assert not fh.read(64).startswith(b"version https://git-lfs"), f


def gpu_covered() -> set[str]:
    """The calls the studio wraps in `spaces.GPU` (guard.gpu): `@gpu` functions and gpu(guard(h.NAME))."""
    names = set()
    for path in (ROOT / "attn_demo").rglob("*.py"):
        src = path.read_text()
        names |= set(re.findall(r"@gpu\s*\n(?:\s*@\w+\s*\n)*\s*def (\w+)", src))
        names |= set(re.findall(r"\bgpu\((?:guard\()?h\.(\w+)", src))
    return names


def test_zerogpu_decorator_is_a_no_op_off_zerogpu_and_its_calls_are_documented():
    covered = gpu_covered()
    assert {"generate", "inspect", "on_change"} <= covered
    doc = (ROOT / "docs" / "SPACE.md").read_text()
    missing = [n for n in sorted(covered) if f"`{n}`" not in doc]
    assert not missing, f"docs/SPACE.md does not name these GPU calls: {missing}"
    # in a Space's environment that is not ZeroGPU (a CPU or a dedicated GPU Space): the same function
    code = ("import spaces\nfrom attn_demo.studio import guard\n"
            "def f(x):\n    return x + 1\n"
            "assert guard.gpu is spaces.GPU\n"
            "assert spaces.GPU(f) is f and spaces.GPU(duration=30)(f) is f and guard.gpu(f)(1) == 2\n"
            "print('no-op')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPACES_")}
    env.update(SPACE_ID="attn-demo/rehearsal", SYSTEM="spaces", GRADIO_ANALYTICS_ENABLED="False")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and "no-op" in out.stdout, out.stderr[-2000:]


def _chromium() -> bool:
    if not os.path.exists("/usr/bin/chromium"):
        return False
    return importlib.util.find_spec("playwright") is not None


@pytest.mark.slow
def test_rehearsal_runs_the_upload_list_as_a_space():
    rehearse = _load("rehearse")
    browser = _chromium()
    if not browser and os.environ.get("CI"):
        pytest.fail("Debian chromium is missing: apt-get install chromium (scripts/test.sh does)")
    report = rehearse.rehearse(browser=browser, log=lambda *a: None)
    assert report["failures"] == [], json.dumps({k: v for k, v in report.items() if k != "server_log_tail"})[:4000]
    models = report["models"]
    assert models["image"] and models["canvas"]
    assert all(isinstance(s, float) for s in report["generate_s"].values())
    assert report["writes_outside"] == [] and report["remote_hosts"] == []
    if browser:
        assert all(report["textures_painted"].values())
        assert report["browser_remote_requests"]["in_the_space_page"] == []


@pytest.mark.slow
def test_rehearsal_fails_when_the_list_leaves_out_a_file_the_app_needs():
    rehearse = _load("rehearse")
    short = [f for f in upload_list() if f != "weights/textures64/model.safetensors"]
    report = rehearse.rehearse(short, browser=False, fail_fast=True, log=lambda *a: None)
    assert report["failures"] and any("textures64" in f for f in report["failures"]), \
        (report["failures"], report.get("server_log_tail", "")[-1500:])

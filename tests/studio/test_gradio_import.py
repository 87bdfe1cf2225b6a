"""attn_demo/studio/_gradio.py: Gradio imported without its .pyi stub writer, and nothing else changed."""
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])

# A component class defined in a fresh module, as Gradio's own are: with the stub writer on,
# Gradio writes a .pyi for it next to the module.
COMPONENT = textwrap.dedent("""
    import gradio as gr

    class Shouty(gr.Textbox):
        def preprocess(self, payload):
            return None if payload is None else payload.upper()
""")


def _run(tmp_path, first_import: str) -> list[str]:
    (tmp_path / "shouty.py").write_text(COMPONENT)
    code = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(tmp_path)!r}, {ROOT!r}]
        {first_import}
        import gradio.component_meta as meta
        import shouty
        box = shouty.Shouty()
        assert box.preprocess("hi") == "HI" and callable(shouty.Shouty.change)
        print(meta.create_or_modify_pyi.__module__,
              any(type(f).__name__ == "_SkipStubWriter" for f in sys.meta_path))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_components_work_and_no_stub_is_written(tmp_path):
    writer_module, hook_left = _run(tmp_path, "from attn_demo.studio._gradio import gr")
    assert writer_module == "attn_demo.studio._gradio" and hook_left == "False"
    assert not (tmp_path / "shouty.pyi").exists()


def test_plain_gradio_import_writes_the_stub(tmp_path):
    """The check above can fail: Gradio as it comes writes the stub of every component class."""
    writer_module, hook_left = _run(tmp_path, "import gradio")
    assert writer_module == "gradio.component_meta" and hook_left == "False"
    assert "class Shouty" in (tmp_path / "shouty.pyi").read_text()


def test_gradio_loaded_first_is_left_alone(tmp_path):
    """Gradio imported by other code first: the stubs are written already; no finder lingers."""
    writer_module, hook_left = _run(tmp_path, "import gradio; import attn_demo.studio.ui")
    assert writer_module == "gradio.component_meta" and hook_left == "False"

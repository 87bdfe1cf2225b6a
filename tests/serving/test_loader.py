"""serving/loader: one place reads a model directory's kind and picks its engine."""
import pytest

from attn_demo.errors import InputError
from attn_demo.serving.canvas import CanvasEngine
from attn_demo.serving.engine import Engine
from attn_demo.serving.loader import load_engine, load_engines, model_kind


def test_load_engine_reads_the_kind(ui_weights):
    assert model_kind(ui_weights / "tiny32") == "sagan"
    assert model_kind(ui_weights / "tinytex") == "canvas"
    assert type(load_engine(ui_weights / "tiny32", device="cpu")) is Engine
    assert type(load_engine(ui_weights / "tinytex", device="cpu")) is CanvasEngine
    with pytest.raises(InputError, match="not a 'sagan'"):
        load_engine(ui_weights / "tinytex", device="cpu", kind="sagan")


def test_load_engines_reports_a_broken_model(tmp_path, ui_weights):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    problems = {}
    loaded = load_engines([ui_weights / "tiny32", bad], "cpu", problems)
    assert list(loaded) == ["tiny32"] and "bad" in problems
    assert model_kind(bad, unreadable="sagan") == "sagan"

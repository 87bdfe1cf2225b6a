"""The bugs a new user's walkthrough of the studio found (issue #33), each pinned by a test that
fails without its fix. The handlers are called as Gradio calls them, without a browser."""
from dataclasses import replace

import pytest

from attn_demo.serving.engine import MapSettings, RenderArgs
from attn_demo.studio._gradio import gr
from attn_demo.studio.view import View


def handlers(studio, v=None):
    from attn_demo.studio.events import Handlers
    return Handlers(studio, v or View("tiny32", RenderArgs(1)))


def skipped(update) -> bool:
    return update == gr.skip()


def test_1_the_model_list_opened_and_closed_changes_nothing(studio):
    v = View("tinycond", RenderArgs(seed=4, label="fish", sliders=(1.0,)), map=MapSettings("G8", 1))
    assert all(skipped(u) for u in handlers(studio, v).on_model("tinycond", v))


def test_1_a_model_with_the_same_classes_keeps_the_class(studio, monkeypatch):
    v = View("tinycond", RenderArgs(seed=4, label="fish"))
    h = handlers(studio, v)
    engine = studio.engine("tinycond")
    monkeypatch.setitem(studio.engines, "tinycond2", engine)           # the same classes, another name
    assert h.on_model("tinycond2", v)[0]["value"] == "fish"
    assert h.on_model("tinycond", View("tiny32", RenderArgs(1)))[0]["value"] == "cat"   # no class before

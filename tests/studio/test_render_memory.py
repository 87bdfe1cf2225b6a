"""Memory under mixed load (issue #37): render caches bounded by bytes, large canvases gated.

A count-bounded cache let a few large canvases (image, latent field, attention captures and the
statistics clicks add later) hold any number of bytes; several users asking for 2048² at once
each took hundreds of MB while painting and left their peak in a malloc arena."""
import threading
import time

import numpy as np
import pytest

from attn_demo.errors import AttnDemoError, BusyError
from attn_demo.serving import gate
from attn_demo.serving.canvas import CanvasEngine
from attn_demo.studio.cache import RenderCache, render_nbytes
from attn_demo.studio.textures.desk import CanvasDesk
from attn_demo.studio.files import ExportFolder
from conftest import tiny_canvas


@pytest.fixture(scope="module")
def engine():
    return CanvasEngine(tiny_canvas(), device="cpu", name="tinytex")


def held_bytes(result) -> int:
    """What a kept render really holds once clicked: arrays, latents, captures with their
    row normalisers and summaries computed."""
    total = result.image.nbytes + result.field.numel() * 4
    for cap in result.captures.values():
        cap.lse
        cap.summary()
        total += cap.nbytes + sum(t.numel() * t.element_size() for pair in cap._summary.values() for t in pair)
    return total


def test_a_renders_weight_counts_what_clicks_add_later(engine):
    result = engine.render(engine.field(1, 128, 96), "sand")
    weighed = render_nbytes(result)
    assert weighed >= held_bytes(result)              # lse and summaries computed now: still covered
    assert weighed < 2 * held_bytes(result)           # and not a wild over-estimate


def test_many_large_renders_keep_the_canvas_cache_under_its_byte_limit(engine, tmp_path):
    desk = CanvasDesk({"tinytex": engine}, ExportFolder(tmp_path))
    one = held_bytes(engine.render(engine.field(0, 256, 256), "sand"))
    limit = int(2.5 * one)                             # room for two 256² canvases, not the count's four
    desk._renders.max_bytes = limit
    v = desk.default_view()
    for seed in range(6):
        view = desk.view(v, "tinytex", seed, 256, 256, "both", 1.0, "sand")
        desk.inspect(view, 10, 10)                     # a click computes the capture's statistics
    kept = list(desk._renders._items.values())
    assert sum(held_bytes(r) for r in kept) <= limit, f"{len(kept)} canvases kept"
    assert len(kept) == 2 and desk._renders.nbytes <= limit


def test_the_newest_render_stays_even_alone_over_the_limit():
    cache = RenderCache(size=8, max_bytes=10)
    big = np.zeros(1000, np.uint8)
    assert cache.get("a", lambda: big) is big and cache.get("b", lambda: big) is big
    assert len(cache) == 1 and cache.get("b", lambda: pytest.fail("painted again")) is big


def test_a_small_image_cache_still_keeps_its_count():
    cache = RenderCache(size=3)
    for i in range(10):
        cache.get(i, lambda: np.zeros(10))
    assert len(cache) == 3


def test_large_renders_wait_in_a_bounded_queue_and_the_rest_are_refused_clearly():
    g = gate.RenderGate(slots=1, waiting=1, wait_s=30, large=100)
    release, started, order = threading.Event(), threading.Event(), []

    def paint(name, wait=None):
        with g.hold(20, 20):
            order.append(name)
            started.set()
            if wait is not None:
                wait.wait(30)
    first = threading.Thread(target=paint, args=("first", release))
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=paint, args=("second",))
    second.start()
    deadline = time.monotonic() + 10
    while g.busy() != (1, 1) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert g.busy() == (1, 1)
    t = time.perf_counter()
    with pytest.raises(BusyError, match=r"busy painting.*20 x 20.*Try again.*at most 10 x 10"):
        with g.hold(20, 20):
            pass
    assert time.perf_counter() - t < 1.0              # refused at once, not after a wait
    with g.hold(8, 8):                                  # small renders never wait
        order.append("small")
    release.set()
    first.join(10)
    second.join(10)
    assert order == ["first", "small", "second"] and g.busy() == (0, 0) and g.refused == 1
    assert issubclass(BusyError, AttnDemoError)        # the studio shows it as a message, no traceback


def test_a_wait_that_times_out_is_refused_and_frees_its_place():
    g = gate.RenderGate(slots=1, waiting=1, wait_s=0.2, large=100)
    outcome = []

    def waiter():
        try:
            with g.hold(20, 20):
                outcome.append("ran")
        except BusyError as e:
            outcome.append(str(e))
    with g.hold(20, 20):
        w = threading.Thread(target=waiter)
        w.start()
        w.join(10)
    assert len(outcome) == 1 and "waited" in outcome[0] and g.busy() == (0, 0)


def test_the_canvas_engine_paints_large_canvases_through_the_gate(engine, monkeypatch):
    g = gate.RenderGate(slots=1, waiting=0, wait_s=1, large=64 * 64)
    monkeypatch.setattr("attn_demo.serving.canvas.LARGE", g)
    with g.hold(128, 128):                               # someone else paints a large canvas
        with pytest.raises(BusyError):
            engine.render(engine.field(2, 128, 128), "sand")
        assert engine.render(engine.field(2, 64, 64), "sand").image.shape == (64, 64, 3)
    assert engine.render(engine.field(2, 128, 128), "sand").image.shape == (128, 128, 3)


def test_freed_memory_goes_back_to_the_system():
    from attn_demo.machine import give_back_freed_memory
    assert give_back_freed_memory() in (True, False)   # glibc: trims; elsewhere: nothing to do

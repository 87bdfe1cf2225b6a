"""attn_demo/studio/_gradio.py lazy_session_configs: a new session builds a block's config only
when something reads it, and what it builds is what Gradio's eager copy holds."""
import json
import urllib.request

import pytest

from attn_demo.studio import _gradio
from attn_demo.studio._gradio import LazyConfigs, gr


@pytest.fixture(scope="module")
def demo(studio):
    from attn_demo.studio.ui import build_demo
    return build_demo(studio)


def _sessions(demo):
    from gradio.state_holder import SessionState
    eager = SessionState.__new__(SessionState)
    SessionState.__init__.eager(eager, demo)
    return SessionState(demo), eager


def test_the_patch_is_in_force_for_the_pinned_gradio():
    from gradio.state_holder import SessionState
    assert gr.__version__ in _gradio.LAZY_CONFIGS_FOR
    assert SessionState.__init__.lazy_configs and _gradio.lazy_session_configs()


def test_a_new_session_builds_nothing_until_read(demo):
    lazy, eager = _sessions(demo)
    assert isinstance(lazy.config_values, LazyConfigs) and not lazy.config_values._built
    assert len(lazy.config_values) == len(eager.config_values) > 100
    assert sorted(vars(lazy)) == sorted(vars(eager))   # the same fields as Gradio's own __init__
    some = next(iter(eager.config_values))
    assert lazy.config_values[some] == eager.config_values[some]
    assert list(lazy.config_values._built) == [some]


def test_every_config_and_the_order_equal_the_eager_copy(demo):
    lazy, eager = _sessions(demo)
    assert list(lazy.config_values.items()) == list(eager.config_values.items())
    assert list(lazy.components) == list(eager.components)


def test_updates_as_an_event_makes_them_give_the_same_deep_link(demo):
    """What blocks.py does as a call runs: put a block in the session, replace one with an update,
    write values into the configs; the deep link (components, in order) is then the same."""
    lazy, eager = _sessions(demo)
    ids = [k for k, c in eager.config_values.items() if "value" in c.get("props", {})][-3:]
    assert len(ids) == 3
    for state in (lazy, eager):
        block = state.blocks_config.blocks[ids[0]]
        state[ids[0]] = block
        state._update_value_in_config(ids[0], "first")
        state[ids[1]] = state.blocks_config.blocks[ids[1]]
        state._update_config(ids[1])
        state._update_value_in_config(ids[2], 7)
    assert list(lazy.components) == list(eager.components)
    values = {c["id"]: c["props"].get("value") for c in lazy.components}
    assert values[ids[0]] == "first" and values[ids[2]] == 7


def test_lazy_configs_behave_as_a_dict():
    built = []
    configs = LazyConfigs(lambda k, b: built.append(k) or {"id": k, "block": b}, {3: "a", 1: "b", 2: "c"})
    assert 1 in configs and 9 not in configs and len(configs) == 3 and built == []
    configs[9] = {"id": 9}
    configs[1] = {"id": 1, "new": True}
    del configs[2]
    assert built == [] and len(configs) == 3
    assert list(configs) == [3, 1, 9] and built == [3]           # the page's order, then later ones
    assert configs[1] == {"id": 1, "new": True}
    with pytest.raises(KeyError):
        configs[2]


def test_another_gradio_keeps_the_eager_copy(monkeypatch):
    from gradio.state_holder import SessionState
    lazy_init = SessionState.__init__
    monkeypatch.setattr(SessionState, "__init__", lazy_init.eager)
    monkeypatch.setattr(gr, "__version__", "99.0.0")
    assert _gradio.lazy_session_configs() is False
    assert SessionState.__init__ is lazy_init.eager


def test_a_deep_link_after_an_api_call_carries_its_inputs(app_url):
    """The served app: an API call is a new session; its deep link lists every block, in order,
    with the values that call sent."""
    from gradio_client import Client
    client = Client(app_url, verbose=False)
    client.predict("tinycond", 123, 0.8, "dog", "", api_name="/generate")
    def get(path):
        with urllib.request.urlopen(app_url + path, timeout=30) as r:
            return json.loads(r.read())
    link = get(f"gradio_api/deep_link?session_hash={client.session_hash}")
    assert link
    page = get("config")
    linked = get(f"config?deep_link={link}")
    assert linked["deep_link_state"] == "valid"
    assert [c["id"] for c in linked["components"]] == [c["id"] for c in page["components"]]
    changed = [c for c, plain in zip(linked["components"], page["components"]) if c != plain]
    assert 123 in [c.get("props", {}).get("value") for c in changed]


def test_a_session_gradio_lets_go_is_freed_without_the_cyclic_collector(demo):
    """No reference cycle through the session: Gradio drops the oldest of its SESSIONS sessions, and
    the memory must come back then, not at the next full collection (mixed-memory's growth)."""
    import gc
    import weakref

    from gradio.state_holder import SessionState
    session = SessionState(demo)
    some = next(iter(demo.blocks))
    assert session.config_values[some]          # a built config and a pending rest, as after a call
    gone = weakref.ref(session)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        del session
        assert gone() is None
    finally:
        if was_enabled:
            gc.enable()


def test_forget_finished_sessions_keeps_those_with_events_in_flight():
    pending = {"done": set(), "running": {"e1"}, "also-done": set(), "two": {"e2", "e3"}}
    _gradio.forget_finished_sessions(pending)
    assert pending == {"running": {"e1"}, "two": {"e2", "e3"}}


def test_the_served_queue_forgets_sessions_once_their_calls_are_answered(served_demo):
    """Calls as curl makes them (no session hash: each a new session). Gradio 6.31 alone keeps one
    empty entry per call in `pending_event_ids_session`; with the patch only the last call's stays
    (it goes when the next event joins the queue)."""
    import httpx
    demo, url = served_demo
    assert _gradio.prune_queue_sessions()
    with httpx.Client(timeout=60) as http:
        for seed in range(4):
            r = http.post(f"{url}gradio_api/call/generate", json={"data": ["tinycond", seed, 0.8, "dog", ""]})
            answer = http.get(f"{url}gradio_api/call/generate/{r.json()['event_id']}")
            assert "event: complete" in answer.text
    pending = demo._queue.pending_event_ids_session
    assert len(pending) <= 1 and not any(pending.values())

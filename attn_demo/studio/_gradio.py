"""Gradio, imported without its import-time stub writer: `from ._gradio import gr`.

(It also makes Gradio's refusal of an out-of-range input one log line instead of a
traceback, `quiet_bounds_errors`, builds a session's copy of the page's component
configs lazily, `lazy_session_configs`, and keeps the queue's record of sessions to those
with events in flight, `prune_queue_sessions`: all below.)

As each Gradio component class is defined, Gradio's metaclass re-reads and parses
the class's whole source file and writes a type stub (`.pyi`) next to it in
site-packages (`create_or_modify_pyi` in gradio/component_meta.py): editor hints
for Gradio's own developers. `import gradio` defines 81 such classes, and that
writer took most of Gradio's import time on every start of the app (figures in
docs/PERFORMANCE_NOTES.md). Its result is never used at
run time, and it fails on a read-only install (gradio issue #10121).

Importing Gradio through this module swaps the writer for a no-op as Gradio's
metaclass module is loaded, before any component class exists. If Gradio was
imported before (by other code in the same process), it is used as it is: the
stubs were written already.
"""
from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import logging
import sys
from collections.abc import Callable, Iterator, MutableMapping

STUB_MODULE = "gradio.component_meta"
STUB_WRITER = "create_or_modify_pyi"


def _write_no_stub(*args, **kwargs) -> None:
    """Stands in for Gradio's stub writer: component classes need nothing from it."""


class _SkipStubWriter(importlib.abc.MetaPathFinder):
    """Finds gradio.component_meta as usual; once it has run, replaces its stub writer.

    One-shot: it takes itself off sys.meta_path when it has found the module.
    """

    def find_spec(self, name, path, target=None):
        if name != STUB_MODULE:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec  # an unusual install: import it untouched
        run_module = spec.loader.exec_module

        def exec_module(module):
            run_module(module)
            # A Gradio without the writer (renamed upstream) is left as it is.
            if callable(getattr(module, STUB_WRITER, None)):
                setattr(module, STUB_WRITER, _write_no_stub)

        spec.loader.exec_module = exec_module
        return spec


def skip_stub_writer() -> None:
    """Make the coming `import gradio` skip its stub writer (no-op once Gradio is loaded)."""
    if STUB_MODULE in sys.modules or any(isinstance(f, _SkipStubWriter) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _SkipStubWriter())


def quiet_bounds_errors() -> None:
    """Make Gradio's own "value out of range" refusal of a Number or Slider input a one-line log entry.

    Gradio checks each bounded input before a handler runs (`Number.raise_if_out_of_bounds`, which
    Slider uses too) and raises its Error with a traceback printed to the server's console: for a
    user's typo (truncation 5 in a 0..1 box, a raw API call with seed 2**40). The refusal, the
    message and the answer stay as Gradio makes them; only the traceback becomes one log line, as
    for our own refusals (guard.py). A Gradio without that method is left as it is.
    """
    number = getattr(getattr(gr, "components", None), "Number", None)
    check = getattr(number, "raise_if_out_of_bounds", None)
    if check is None or getattr(check, "quiet", False):
        return

    def raise_if_out_of_bounds(num, minimum, maximum) -> None:
        try:
            check(num, minimum, maximum)
        except gr.Error as e:
            logging.getLogger("attn_demo.studio").warning("refused by Gradio: %s", e.message)
            raise gr.Error(e.message, print_exception=False) from None
    raise_if_out_of_bounds.quiet = True
    number.raise_if_out_of_bounds = staticmethod(raise_if_out_of_bounds)


class LazyConfigs(MutableMapping):
    """A session's block configs, each built the first time it is read.

    Stands in for the dict that Gradio's SessionState fills in its __init__ with
    `config_for_block` for every block of the page (kept for deep links and updated as events
    run). Each entry is built from the block object the session started with, as Gradio's dict
    comprehension does, but only when something reads it; iterating builds the rest, in the
    page's order, so a deep link returns what the eager copy would have.
    """

    def __init__(self, build: Callable[[int, object], dict], blocks: dict):
        self._build = build
        self._pending = dict(blocks)   # block id -> the block, not built yet
        self._order = list(blocks)
        self._built: dict[int, dict] = {}

    def _fill(self, key) -> None:
        if key in self._pending:
            self._built[key] = self._build(key, self._pending.pop(key))

    def _fill_all(self) -> None:
        if not self._pending:
            return
        for key in list(self._pending):
            self._fill(key)
        # the page's order first (as the eager copy has it), then blocks added later
        order = dict.fromkeys(k for k in self._order if k in self._built) | dict.fromkeys(self._built)
        self._built = {k: self._built[k] for k in order}

    def __getitem__(self, key):
        self._fill(key)
        return self._built[key]

    def __setitem__(self, key, value) -> None:
        self._pending.pop(key, None)
        self._built[key] = value

    def __delitem__(self, key) -> None:
        if key in self._pending:
            del self._pending[key]
        else:
            del self._built[key]

    def __contains__(self, key) -> bool:
        return key in self._pending or key in self._built

    def __iter__(self) -> Iterator:
        self._fill_all()
        return iter(self._built)

    def __len__(self) -> int:
        return len(self._pending) + len(self._built)


def _config_for_block(blocks_config, key, block) -> dict:
    """What Gradio's eager copy stores for one block (its `config_for_block`, no renderable)."""
    return blocks_config.config_for_block(key, [], block)


# Gradio whose SessionState.__init__ is known to build the copy eagerly and set nothing else
# that the lazy version below leaves out (tests/studio/test_gradio_sessions.py checks both).
LAZY_CONFIGS_FOR = ("6.31.0",)


def lazy_session_configs() -> bool:
    """Give each new Gradio session a LazyConfigs instead of every block's config built at once.

    Gradio 6.31 builds `config_for_block` for every block of the page in `SessionState.__init__`,
    and every API call without a session hash is a new session: with this app's 342 blocks that was
    41.8 ms of CPU and 595 KB per call, 1.9 ms and 64 KB lazily (scripts/session_cost.py,
    docs/reliability/NOTES.md), since a call reads the configs of its own inputs and outputs only. Applied to the Gradio versions in LAZY_CONFIGS_FOR
    (the pinned one); any other is left as it is. Returns whether the patch is in force.
    """
    import copy
    import os

    from gradio import state_holder
    session = state_holder.SessionState
    if getattr(session.__init__, "lazy_configs", False):
        return True
    if gr.__version__ not in LAZY_CONFIGS_FOR:
        logging.getLogger("attn_demo.studio").info(
            "Gradio %s: sessions build every block's config at once (the lazy copy is for %s)",
            gr.__version__, ", ".join(LAZY_CONFIGS_FOR))
        return False

    def __init__(self, blocks) -> None:
        self.blocks_config = copy.copy(blocks.default_config)
        # The builder holds the session's BlocksConfig, never the session: a closure over `self`
        # made each session a reference cycle, left for the cyclic collector once Gradio evicted
        # it (97 of 297 sessions were such garbage after 400 calls; mixed-memory's +28 MB of
        # traced growth was mostly these, docs/reliability/NOTES.md).
        self.config_values = LazyConfigs(
            functools.partial(_config_for_block, self.blocks_config),
            {k: v for k, v in self.blocks_config.blocks.items() if k in blocks.blocks})
        self.state_data = {}
        self._state_ttl = {}
        self.is_closed = False
        self.STATE_TTL_WHEN_CLOSED = 1 if os.getenv("GRADIO_IS_E2E_TEST", None) else 3600

    __init__.lazy_configs = True
    __init__.eager = session.__init__
    session.__init__ = __init__
    return True


def forget_finished_sessions(pending: dict) -> None:
    """Drop the sessions whose events have all finished from Gradio's queue record of them.

    Gradio 6.31 keeps `pending_event_ids_session` (session hash -> ids of its events not yet
    delivered): each event's id leaves its set when the event's result is sent, but the session's
    empty set stays, one per session for as long as the app runs. Every API call without a session
    hash is a new session, so that record grew by one entry per call (4,771 after mixed-memory's
    10 minutes). An empty set means nothing of that session is queued, running or waiting to be
    sent; Gradio makes a new one at the session's next event (`Queue.push`).
    """
    for session in [s for s, ids in pending.items() if not ids]:
        del pending[session]


def prune_queue_sessions() -> bool:
    """Make Gradio's queue forget finished sessions each time an event joins it (pinned Gradio
    only, LAZY_CONFIGS_FOR): the record then holds the sessions with events in flight. Runs on
    the server's event loop, as Gradio's own changes to that record do. Returns whether it is in force."""
    from gradio.queueing import Queue
    push = Queue.push
    if getattr(push, "forgets_finished_sessions", False):
        return True
    if gr.__version__ not in LAZY_CONFIGS_FOR:
        return False

    @functools.wraps(push)
    async def push_forgetting_finished_sessions(self, *args, **kwargs):
        forget_finished_sessions(self.pending_event_ids_session)
        return await push(self, *args, **kwargs)

    push_forgetting_finished_sessions.forgets_finished_sessions = True
    push_forgetting_finished_sessions.plain = push
    Queue.push = push_forgetting_finished_sessions
    return True


skip_stub_writer()
import gradio as gr  # noqa: E402

quiet_bounds_errors()
lazy_session_configs()
prune_queue_sessions()

__all__ = ["gr", "skip_stub_writer", "quiet_bounds_errors", "lazy_session_configs", "LazyConfigs",
           "prune_queue_sessions", "forget_finished_sessions"]

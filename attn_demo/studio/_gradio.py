"""Gradio, imported without its import-time stub writer: `from ._gradio import gr`.

(It also makes Gradio's refusal of an out-of-range input one log line instead of a
traceback: `quiet_bounds_errors`, below.)

As each Gradio component class is defined, Gradio's metaclass re-reads and parses
the class's whole source file and writes a type stub (`.pyi`) next to it in
site-packages (`create_or_modify_pyi` in gradio/component_meta.py): editor hints
for Gradio's own developers. `import gradio` defines 81 such classes, and that
writer took most of Gradio's import time on every start of the app (figures in
docs/PERFORMANCE_NOTES.md). Its result is never used at
run time, and it fails on a read-only install (gradio issue #10121).

Importing Gradio through this module swaps the writer for a no-op as Gradio's
metaclass module is loaded, before any component class exists. Nothing else in
Gradio is touched. If Gradio was imported before (by other code in the same
process), it is used as it is: the stubs were written already.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import sys

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


skip_stub_writer()
import gradio as gr  # noqa: E402

quiet_bounds_errors()

__all__ = ["gr", "skip_stub_writer", "quiet_bounds_errors"]

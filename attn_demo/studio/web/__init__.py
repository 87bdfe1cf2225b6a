"""The page's JavaScript and CSS, in one folder and one namespace (window.attnDemo).

- `CSS` (studio.css) and `JS` (page.js, live.js, keep.js, paint.js and ab.js run once in one function when the
  page opens) go to `launch(css=CSS, js=JS)`;
- the short scripts below run in the browser on one event each (`js=` of a Gradio listener).

Everything the page keeps lives under `window.attnDemo`:
  ready      true once the first view is in place (the browser tests wait for it)
  seed       the last valid seed the seed box held (the seed on screen)
  inverting  "Your picture" is running: its button cancels
  open       the query of a kept view being opened (keep.js -> events.on_open)
  keep       history and favourites (keep.js)
  live       live mode's state and timings (live.js)
  paint      a free-hand brush being painted in "What attention does" (paint.js)
  ab         the A/B picture's hover markers (ab.js)
"""
from __future__ import annotations

from pathlib import Path

from ...checks import SEED_MAX

HERE = Path(__file__).parent
NS = "(window.attnDemo = window.attnDemo || {})"   # an event may run before the page's script


def _read(name: str) -> str:
    return (HERE / name).read_text(encoding="utf-8")


CSS = _read("studio.css")
JS = ("() => {\n  const attn = " + NS + ";\n"
      + "\n".join(_read(name) for name in ("page.js", "live.js", "keep.js", "paint.js", "ab.js")) + "\n}")

READY = f"() => {{ {NS}.ready = true; }}"
# The page keeps the last valid seed its box held (the seed on screen, as every valid seed renders),
# so that prev / next step from it while the box holds an invalid value.
VALID_SEED = f"(s) => Number.isInteger(s) && s >= 0 && s <= {SEED_MAX}"
TRACK_SEED = f"(s) => {{ if (({VALID_SEED})(s)) {NS}.seed = s; }}"
# Leaving a seed box that holds no valid seed (emptied, or text) puts the seed on screen back in it,
# in the page, before a click elsewhere (prev / next) reads the box.
RESTORE_SEED = f"(s) => ({VALID_SEED})(s) || {NS}.seed === undefined ? s : {NS}.seed"
RANDOM_SEED = f"() => Math.floor(Math.random() * {SEED_MAX + 1})"
# A link's query string -> the whole link, with the page's own address (a Space's or localhost).
LINK = "(q) => q && q.startsWith('?') ? window.location.origin + window.location.pathname + q : q"
# A kept view: keep.js puts its query in attnDemo.open and presses the hidden button.
OPEN = f"(q) => [{NS}.open || q]"
# Live mode beyond the page's limit: the pointer's pixel (live.js) goes to the server as a click.
LIVE_POINT = f"(xy, v) => [{NS}.live ? {NS}.live.point : xy, v]"


def step_seed(step: int) -> str:
    """Browser-side seed +-1, clamped to [0, SEED_MAX], from the box's seed or, when the box holds
    anything but a whole number in range, from the last valid one (the seed on screen)."""
    return (f"(s) => {{ const ok = {VALID_SEED}; const from = ok(s) ? s : {NS}.seed; "
            f"return ok(from) ? Math.min({SEED_MAX}, Math.max(0, from + ({step}))) : s; }}")


# "Your picture": one button starts the search and, while it runs, cancels it.
TOGGLE_INVERT = f"""() => {{
    const attn = {NS}, running = attn.inverting === true;
    attn.inverting = !running;             // a cancel is asked for: the next click starts anew
    document.getElementById(running ? 'inv_stop' : 'inv_go').click();
    const b = document.getElementById('inv_btn');
    if (b) b.innerText = running ? 'Find it in the model' : 'Cancel';
}}"""
INVERT_DONE = f"""() => {{ {NS}.inverting = false;
    const b = document.getElementById('inv_btn'); if (b) b.innerText = 'Find it in the model'; }}"""

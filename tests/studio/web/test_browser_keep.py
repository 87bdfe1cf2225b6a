"""History and favourites, kept in the browser (studio/keep.js)."""

import pytest

from test_browser import page, wait_ready, wait_text  # noqa: F401  (the page fixture)

pytestmark = pytest.mark.browser


def seed_shown(page) -> str:
    return page.input_value("#seed input")


def wait_seed(page, seed: int, timeout=20000):
    page.wait_for_function(f"() => document.querySelector('#seed input').value === '{seed}'", timeout=timeout)


def wait_history(page, count: int, timeout=20000):
    page.wait_for_function(f"() => window.attnDemo?.keep && window.attnDemo.keep.history.entries.length === {count}",
                           timeout=timeout)


def wait_query(page, part: str, timeout=20000):
    page.wait_for_function(f"() => document.querySelector('#view_data textarea').value.includes('{part}')",
                           timeout=timeout)


def fresh(page) -> None:
    """The page reloaded with nothing kept, once its first view and widgets are in place."""
    page.evaluate("() => localStorage.clear()")
    page.reload()
    wait_history(page, 1)
    wait_seed(page, 42)
    wait_ready(page)


def test_back_and_forward_walk_the_views_and_survive_a_reload(page, app_url):
    fresh(page)
    for seed in (43, 44):
        page.click("#next_btn")
        wait_query(page, f"seed={seed}")
        wait_history(page, seed - 41)
    assert page.locator("#keep_history .keep-tile").count() == 3
    page.click("#keep_back")
    wait_seed(page, 43)
    wait_query(page, "seed=43")
    page.click("#keep_back")
    wait_seed(page, 42)
    page.click("#keep_forward")
    wait_seed(page, 43)
    wait_query(page, "seed=43")
    assert page.evaluate("() => window.attnDemo.keep.history.index") == 1, page.evaluate("() => JSON.stringify(window.attnDemo.keep.history.entries.map(e => e.query))")
    # a new view after going back drops the views ahead, as a browser's history does
    page.fill("#seed input", "7")
    page.press("#seed input", "Enter")
    wait_query(page, "seed=7")
    page.wait_for_function("() => window.attnDemo.keep.history.entries.length === 3 && "
                           "window.attnDemo.keep.history.entries[2].query.includes('seed=7&')")
    assert [e.split("seed=")[1].split("&")[0] for e in
            page.evaluate("() => window.attnDemo.keep.history.entries.map(e => e.query)")] == ["42", "43", "7"]
    page.reload()
    page.wait_for_selector("#keep_history .keep-tile")
    wait_ready(page)
    assert page.locator("#keep_history .keep-tile").count() >= 3


def test_a_favourite_keeps_the_view_and_its_click_and_opens_it_again(page):
    fresh(page)
    page.click("#keep_fav")
    page.wait_for_selector("#keep_favourites .keep-tile img")
    fav = page.evaluate("() => window.attnDemo.keep.favourites[0]")
    assert "seed=42" in fav["query"] and "x=256&y=256" in fav["query"] and fav["thumb"].startswith("data:image/jpeg")
    page.click("#keep_fav")                                     # the same view twice: kept once
    page.wait_for_function("() => document.getElementById('keep_note').textContent.includes('already')")
    page.click("#next_btn")
    wait_query(page, "seed=43")
    page.reload()                                               # kept across visits
    page.wait_for_selector("#keep_favourites .keep-tile")
    wait_ready(page)
    page.click("#next_btn")
    wait_query(page, "seed=43")
    page.click("#keep_favourites .keep-tile")
    wait_seed(page, 42)
    wait_text(page, "x=256, y=256")
    page.click("#keep_favourites .keep-remove")
    page.wait_for_function("() => window.attnDemo.keep.favourites.length === 0")
    assert page.evaluate("() => localStorage.getItem('attn-demo.favourites')") == "[]"


def test_storage_another_tool_broke_is_set_aside(page):
    page.evaluate("""() => { localStorage.setItem('attn-demo.history', '{not json');
                             localStorage.setItem('attn-demo.favourites', JSON.stringify([{query: 'javascript:1', thumb: 'x'}])); }""")
    page.reload()
    wait_history(page, 1)
    wait_ready(page)
    assert page.evaluate("() => window.attnDemo.keep.favourites.length") == 0
    page.click("#keep_fav")
    page.wait_for_function("() => window.attnDemo.keep.favourites.length === 1")

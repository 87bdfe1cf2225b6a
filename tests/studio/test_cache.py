"""The render LRU shared by the image studio and the textures desk (studio/cache.py)."""
import threading

from attn_demo.studio.cache import RenderCache


def test_a_kept_value_is_not_made_again_and_the_oldest_goes_first():
    cache, made = RenderCache(2), []
    make = lambda k: (lambda: made.append(k) or k * 10)  # noqa: E731
    assert cache.get("a", make("a")) == "a" * 10 and cache.get("a", make("a")) == "a" * 10
    cache.get("b", make("b"))
    cache.get("a", make("a"))                       # a is now the newest
    cache.get("c", make("c"))                       # b, the oldest, goes
    assert made == ["a", "b", "c"] and len(cache) == 2
    cache.get("b", make("b"))
    assert made == ["a", "b", "c", "b"]


def test_a_make_in_progress_does_not_hold_up_other_keys():
    """While one key is being made (a long render), another key is served: make runs outside the lock."""
    cache, started, release = RenderCache(4), threading.Event(), threading.Event()

    def blocked():
        started.set()
        release.wait(10)
        return "slow"
    slow = threading.Thread(target=lambda: cache.get("slow", blocked))
    slow.start()
    started.wait(10)
    got = []
    fast = threading.Thread(target=lambda: got.append(cache.get("fast", lambda: "fast")))
    fast.start()
    fast.join(5)
    served_while_blocked = got == ["fast"]
    release.set()
    slow.join(10)
    assert served_while_blocked and cache.get("slow", lambda: "again") == "slow"

"""The machine this process runs on: the CPU's name, and glibc malloc settings for generators.

`cpu_name` reads /proc/cpuinfo once for the trainer, the benchmark and the
reliability runs, which all report the hardware they measured on.

glibc malloc settings for a process that runs generators on the CPU:

By default glibc serves every large allocation (from 128 KiB, a threshold that
rises to at most 32 MiB as blocks are freed) with a fresh `mmap` and unmaps it
on free, so each activation tensor of a batch forward is new memory whose every
page faults on first touch (and is zeroed by the kernel). With the settings
below the freed blocks stay in the heap and are reused. `python -m attn_demo
bench` measures what this buys (its ablation table: the "malloc:" rows).

The price: the process keeps the heap of its largest batch (its resident
memory stays at that peak instead of falling back between requests).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import platform
from pathlib import Path


@functools.lru_cache(maxsize=1)
def cpu_name() -> str:
    """The CPU's model name ("AMD EPYC 9B14", ...) from /proc/cpuinfo, or what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8
# no mmap for any size; never hand the top of the heap back (up to 2 GiB free)
TUNED = {M_MMAP_MAX: 0, M_TRIM_THRESHOLD: 2 ** 31 - 1}


@functools.lru_cache(maxsize=1)
def _mallopt():
    """glibc's mallopt, or None (another C library, or not Linux)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # only glibc has it
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


def keep_freed_memory(arenas: int = 0) -> bool:
    """Let malloc reuse freed blocks instead of unmapping them. False where it does not apply.

    arenas > 0 also caps malloc's arenas (M_ARENA_MAX; call it before the threads start): glibc
    gives a thread that finds the others' arenas busy an arena of its own, up to 8 per core, and
    with freed blocks kept each arena stays at its own peak. A server with many worker threads
    (Gradio's) then holds many peaks of free memory; docs/reliability/NOTES.md measured 16 arenas,
    368 MB of 453 MB free.
    """
    mallopt = _mallopt()
    tuned = {**TUNED, M_ARENA_MAX: arenas} if arenas > 0 else TUNED
    return mallopt is not None and all(mallopt(k, v) == 1 for k, v in tuned.items())


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's malloc_trim, or None."""
    if _mallopt() is None:
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    trim = libc.malloc_trim
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def give_back_freed_memory() -> bool:
    """Return the free memory of every malloc arena to the system (malloc_trim(0)), e.g. after a
    large render: keep_freed_memory keeps it otherwise, each thread's arena at its own peak. False
    where it does not apply."""
    trim = _malloc_trim()
    return trim is not None and bool(trim(0))

"""keep_freed_memory: freed tensor memory stays in the process for reuse (glibc on Linux)."""
import subprocess
import sys

import pytest

from attn_demo import machine as malloc
from attn_demo.machine import cpu_name

pytestmark = pytest.mark.skipif(malloc._mallopt() is None, reason="needs glibc's mallopt")

SCRIPT = """
import sys
import torch
from attn_demo.machine import keep_freed_memory
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096
if sys.argv[1] != "default":
    assert keep_freed_memory()
base = rss()
x = torch.ones(64 * 2 ** 20 // 4)  # 64 MiB, every page touched
del x
print((rss() - base) / 2 ** 20)
"""


def _kept_mib(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True)
    return float(out.stdout)


def test_freed_tensor_memory_is_kept_only_when_tuned():
    assert _kept_mib("tuned") > 60        # the heap keeps the block for the next batch
    assert _kept_mib("default") < 8       # glibc's default: mmapped, unmapped on free



ARENAS = """
import ctypes, os, re, sys, tempfile, threading
import torch
from attn_demo.machine import keep_freed_memory
torch.set_num_threads(1)
if sys.argv[1] != "default":
    assert keep_freed_memory(arenas=int(sys.argv[1]))
barrier = threading.Barrier(12)
def work():
    barrier.wait()
    for _ in range(400):               # torch allocates without the GIL: threads in malloc at once
        x = torch.ones(8192) + torch.ones(8192)
        del x
threads = [threading.Thread(target=work) for _ in range(12)]
[t.start() for t in threads]
[t.join() for t in threads]
libc = ctypes.CDLL("libc.so.6")
libc.fdopen.restype, libc.fdopen.argtypes = ctypes.c_void_p, [ctypes.c_int, ctypes.c_char_p]
libc.malloc_info.argtypes, libc.fclose.argtypes = [ctypes.c_int, ctypes.c_void_p], [ctypes.c_void_p]
fd, path = tempfile.mkstemp()
fp = libc.fdopen(os.dup(fd), b"w")
libc.malloc_info(0, fp)
libc.fclose(fp)
os.close(fd)
print(len(re.findall(r'<heap nr=', open(path).read())))
os.unlink(path)
"""


def _arenas(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", ARENAS, mode], capture_output=True, text=True, check=True)
    return int(out.stdout)


def test_arenas_are_capped_when_asked():
    assert _arenas("default") > 2          # glibc's own: a new arena for a thread that finds them busy
    assert _arenas("2") <= 2


def test_cpu_name_is_the_model_name_of_proc_cpuinfo():
    names = [line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")]
    assert names and cpu_name() == names[0]

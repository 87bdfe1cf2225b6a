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



def test_cpu_name_is_the_model_name_of_proc_cpuinfo():
    names = [line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")]
    assert names and cpu_name() == names[0]

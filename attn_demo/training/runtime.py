"""Where a training process runs: device, DDP rank and world, mixed precision, memory format.

`setup_runtime` reads the command's choices and the environment torchrun sets;
the trainer and the benchmark's training rows share it.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import AttnDemoError
from ..machine import cpu_name
from ..models.config import TrainConfig
from .state import TrainState


class TrainingError(AttnDemoError):
    """Training cannot go on (diverged repeatedly, or a run directory conflict)."""


@dataclass
class Runtime:
    """Where this process trains: device, DDP rank/world, mixed precision, memory format."""

    device: torch.device
    rank: int = 0
    world: int = 1
    amp: bool = False
    channels_last: bool = False
    compile: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    def autocast(self):
        if self.amp:
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bf16 on this CPU in hardware (AVX512-BF16 or AMX), not emulated."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def setup_runtime(device: str, cfg: TrainConfig) -> Runtime:
    """--amp auto turns bf16 on with CUDA and on a CPU that runs bf16 in hardware (there it trained
    at least as well per step as fp32 at 32 and 64 px, and 1.4-1.7x faster: docs/TRAINING.md);
    --amp off keeps fp32."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda was asked for but no CUDA GPU is available")
    rank = 0
    if world > 1:
        if not dist.is_initialized():
            dist.init_process_group("nccl" if use_cuda else "gloo")
        rank = dist.get_rank()
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    on_gpu = dev.type == "cuda"
    amp = cfg.amp == "bf16" or (cfg.amp == "auto" and (on_gpu or cpu_has_native_bf16()))
    cl = cfg.channels_last == "on" or (cfg.channels_last == "auto" and on_gpu)
    return Runtime(dev, rank, world, amp, cl, cfg.compile == "on")


def step_modules(st: TrainState, rt: Runtime) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The G and D that `train_step` runs: st.G and st.D, wrapped for DDP over several processes and
    compiled with --compile on. The wrappers share st's parameters: checkpoints, the EMA and
    rollbacks keep working on st.G and st.D. Compiling happens at the first step (minutes on a
    CPU, less with Inductor's cache warm); D gets two graphs, as the G step turns its gradients off."""
    G = torch.nn.parallel.DistributedDataParallel(st.G) if rt.world > 1 else st.G
    D = torch.nn.parallel.DistributedDataParallel(st.D) if rt.world > 1 else st.D
    if rt.compile:
        G, D = torch.compile(G), torch.compile(D)
    return G, D


def describe_hardware(rt: Runtime) -> str:
    if rt.device.type == "cuda":
        name = torch.cuda.get_device_name(rt.device)
    else:
        name = f"{cpu_name()}, {torch.get_num_threads()} threads"
    return f"{rt.world} x {name}" if rt.world > 1 else name


# --------------------------------------------------------------- one step
def agree(rt: Runtime, *flags: bool) -> list[bool]:
    """Under DDP every rank must take the same branch: OR the flags across ranks."""
    if rt.world == 1:
        return list(flags)
    t = torch.tensor([float(f) for f in flags], device=rt.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def barrier(rt: Runtime) -> None:
    if rt.world > 1:
        dist.barrier()

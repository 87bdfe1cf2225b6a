"""Training speed: one D + G step of the trainer's own step, per model and variant."""
from __future__ import annotations

import statistics
import time

import torch

from attn_demo.models.config import ModelConfig, TrainConfig
from attn_demo.models.networks import count_parameters
from attn_demo.training.runtime import Runtime, cpu_has_native_bf16, step_modules
from attn_demo.training.step import Batches, build_state, train_step

from .common import REFERENCE, _error_text, timings


def bench_train(name: str, cfg: ModelConfig, quick: bool, batch: int = 64, device: torch.device | None = None,
                amp: bool | None = None, compile_: bool = False) -> dict:
    """One D + G step of `train_step` at `batch`, channels_last, on random images. amp defaults to
    bf16 on CUDA and fp32 on a CPU (the CPU rows compare across CPUs; training's "auto" also
    picks bf16 on a CPU with bf16 in hardware, which the table's `--amp bf16` row measures);
    compile_ times the step with G and D compiled (--compile on), its compiling apart."""
    from attn_demo.imaging.folders import ImageSet
    device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    amp = device.type == "cuda" if amp is None else amp
    tcfg = TrainConfig(batch_size=batch, channels_last="on", amp="bf16" if amp else "off",
                       compile="on" if compile_ else "off")
    rt = Runtime(device, amp=amp, channels_last=True, compile=compile_)
    k = cfg.num_classes
    data = ImageSet(torch.randint(0, 255, (256, 3, cfg.resolution, cfg.resolution), dtype=torch.uint8),
                    torch.arange(256) % k if k else None, tuple(str(i) for i in range(k)), "random")
    st = build_state(cfg, tcfg, rt)
    G, D = step_modules(st, rt)
    batches = Batches(data, tcfg, rt, st.data_gen)
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    step = lambda: train_step(st, G, D, batches, tcfg, rt)  # noqa: E731
    row = {"model": name, "device": str(device), "variant": _train_label(amp, compile_),
           "resolution": cfg.resolution, "batch": batch}
    repeat = 2 if quick else 5
    if compile_:
        t = time.perf_counter()
        step()   # compiles (D's graph without gradients at its G step)
        row["compile_s"] = time.perf_counter() - t
        # The eager step on the same state, interleaved step by step: this VM's speed drifts
        # within minutes, so only a comparison taken in the same minutes says what compiling gains.
        eager = lambda: train_step(st, st.G, st.D, batches, tcfg, rt)  # noqa: E731
        step(), eager()   # warm-up
        pairs = [(timings(eager, 0, 1, sync)["median_ms"], timings(step, 0, 1, sync)["median_ms"])
                 for _ in range(repeat + 1)]
        t = {"median_ms": statistics.median(c for _, c in pairs)}
        row["eager_step_ms"] = statistics.median(e for e, _ in pairs)
        row["speedup"] = row["eager_step_ms"] / t["median_ms"]
    else:
        t = timings(step, warmup=2, repeat=repeat, sync=sync)
    row.update({"step_ms": t["median_ms"], "images_per_s": batch / (t["median_ms"] / 1e3),
                "g_parameters": count_parameters(st.G), "d_parameters": count_parameters(st.D)})
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:   # one more step, eager (the same maths), counted, not timed
        train_step(st, st.G, st.D, batches, tcfg, rt)
    flops = counter.get_total_flops()
    return {**row, "gflop_per_image": flops / batch / 1e9, "achieved_gflops": flops / (t["median_ms"] / 1e3) / 1e9}


def _train_label(amp: bool, compile_: bool) -> str:
    return ("bf16" if amp else "fp32") + (" + torch.compile" if compile_ else "")


def train_runs(device: torch.device, shipped_cfg: dict, quick: bool) -> list[tuple[str, ModelConfig, dict]]:
    """What the training table measures on `device`: every model as training's defaults run it,
    then the reference's variants: torch.compile (not in a quick run: minutes of compiling on
    a CPU), on CUDA fp32 beside the default bf16, and on a CPU with native bf16 `--amp bf16`
    beside the default fp32."""
    runs = [(name, cfg, {}) for name, cfg in [*shipped_cfg.items(), ("reference-64", REFERENCE)]]
    if device.type == "cuda":
        runs += [("reference-64", REFERENCE, {"amp": False}), ("reference-64", REFERENCE, {"compile_": True})]
        return runs
    if cpu_has_native_bf16():
        runs.append(("reference-64", REFERENCE, {"amp": True}))
    if not quick:
        runs.append(("reference-64", REFERENCE, {"compile_": True}))
    return runs


def bench_train_variant(name: str, cfg: ModelConfig, quick: bool, device: torch.device, variant: dict) -> dict:
    """bench_train; a variant that fails (a compiler error on a new GPU, say) becomes a row that
    says so, instead of ending a run whose device time is short."""
    if not variant:
        return bench_train(name, cfg, quick, device=device)
    try:
        return bench_train(name, cfg, quick, device=device, **variant)
    except Exception as e:   # noqa: BLE001 -- recorded, the run goes on
        return {"model": name, "device": str(device), "resolution": cfg.resolution,
                "variant": _train_label(variant.get("amp", device.type == "cuda"), variant.get("compile_", False)),
                "error": _error_text(e)}

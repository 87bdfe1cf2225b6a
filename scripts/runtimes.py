"""The served reference generator in eager PyTorch beside two inference runtimes.

    pip install onnx onnxscript onnxruntime openvino    # not in requirements.txt: only this script uses them
    python scripts/runtimes.py --out docs/runtimes.json

The question it answers (docs/PERFORMANCE_NOTES.md, "The misses"): would
serving G through ONNX Runtime or OpenVINO, instead of PyTorch, meet the
5 ms batch-1 target? G is the one `python -m bench` measures (the
reference configuration with random weights, folded as the engine serves it),
exported with `torch.onnx.export(dynamo=True)`; each runtime's output is
checked against PyTorch's. The runtimes are timed in interleaved rounds in one
process, so a noisy minute of this shared machine hits them all alike; the
figure is the median of the rounds' medians. A runtime that is not installed
is skipped.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # attn_demo, run from anywhere
from bench.common import REFERENCE, machine, timings  # noqa: E402
from attn_demo.serving.engine import prepare_generator  # noqa: E402
from attn_demo.models.networks import Generator  # noqa: E402


class Unconditional(torch.nn.Module):
    """G(z) for the exporter (the reference configuration has no classes)."""

    def __init__(self, g: Generator):
        super().__init__()
        self.g = g

    def forward(self, z):
        return self.g(z, None)


def onnxruntime_runner(path: Path, threads: int):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda z: session.run(None, {"z": z})[0]


def openvino_runner(path: Path, threads: int):
    import openvino as ov
    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(path)), "CPU", {
        "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    return lambda z: request.infer({0: z})[0]


RUNTIMES = {"onnxruntime": onnxruntime_runner, "openvino": openvino_runner}


def compare(name: str, g: Generator, batch: int, rounds: int, repeat: int, threads: int, folder: Path) -> list[dict]:
    torch.manual_seed(0)
    z = torch.randn(batch, g.cfg.z_dim)
    path = folder / f"{name}-{batch}.onnx"
    torch.onnx.export(Unconditional(g), (z,), str(path), dynamo=True, input_names=["z"], output_names=["image"])
    with torch.inference_mode():
        expected = g(z, None)
    runners = {"pytorch": lambda z_: g(torch.from_numpy(z_), None)}
    for runtime, make in RUNTIMES.items():
        if importlib.util.find_spec(runtime):
            runners[runtime] = make(path, threads)
        else:
            print(f"{runtime} is not installed: skipped")
    rows = {}
    for runtime, run in runners.items():
        with torch.inference_mode():
            diff = (torch.as_tensor(run(z.numpy())) - expected).abs().max().item()
        rows[runtime] = {"model": name, "batch": batch, "runtime": runtime, "max_abs_diff": diff, "rounds_ms": []}
    for _ in range(rounds):
        for runtime, run in runners.items():
            with torch.inference_mode():
                t = timings(lambda: run(z.numpy()), warmup=3, repeat=repeat)
            rows[runtime]["rounds_ms"].append(t["median_ms"])
    for row in rows.values():
        row["median_ms"] = statistics.median(row["rounds_ms"])
        row["images_per_s"] = batch / (row["median_ms"] / 1e3)
        print(f"{name:>14} batch {batch:>2}  {row['runtime']:<11} {row['median_ms']:7.2f} ms  "
              f"(rounds {', '.join(f'{v:.2f}' for v in row['rounds_ms'])}; max |diff| {row['max_abs_diff']:.1e})")
    return list(rows.values())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=6, help="interleaved rounds (default: %(default)s)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(),
                   help="threads for every runtime (default: PyTorch's, %(default)s)")
    p.add_argument("--out", type=Path, help="write the rows as JSON here")
    a = p.parse_args()
    missing = [m for m in ("onnx", "onnxscript") if not importlib.util.find_spec(m)]
    if missing or not any(importlib.util.find_spec(m) for m in RUNTIMES):
        sys.exit(f"the export needs onnx and onnxscript (missing: {', '.join(missing) or 'none'}) and at least "
                 "one runtime: pip install onnx onnxscript onnxruntime openvino")
    torch.set_num_threads(a.threads)
    # (model, configuration, (batch, timed calls per round)...): the floor at batch 1 only
    models = [("reference-64", REFERENCE, ((1, 50), (64, 8))),
              ("reference-64-at-width-8", replace(REFERENCE, g_width=8), ((1, 50),))]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, cfg, batches in models:
            g = prepare_generator(Generator(cfg), torch.device("cpu"))
            for batch, repeat in batches:
                rows += compare(name, g, batch, a.rounds, repeat, a.threads, Path(folder))
    if a.out:
        versions = {m: __import__(m).__version__ for m in RUNTIMES if importlib.util.find_spec(m)}
        a.out.write_text(json.dumps({"machine": machine(), "threads": a.threads, "versions": versions,
                                     "command": "python " + " ".join(sys.argv), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Model cost figures: parameters, MACs (every convolution counted), ONNX Runtime latency, and the CPU it ran on."""

import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from tao_inference.environment import cpu_summary  # noqa: F401  (the benchmarks' import)


def count_params(model):
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_macs(model, image_size, device="cpu"):
    """Multiply-accumulates of one forward pass at batch 1 (FlopCounterMode counts 2 FLOPs per MAC);
    `image_size`: a side (square input) or (height, width)."""
    height, width = image_size if isinstance(image_size, (tuple, list)) else (image_size, image_size)
    was_training = model.training
    model.eval()
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, height, width, device=device))
    model.train(was_training)
    return counter.get_total_flops() // 2




def ort_latencies_ms(onnx_paths, image_size, batch_size, rounds=5, runs_per_round=10, warmup=2):
    """Median wall time (ms) of one ONNX Runtime CPU call for each model, measured side by side.

    The models take turns (round-robin, `rounds` times `runs_per_round` calls each), so load from other processes on
    a shared machine slows all of them alike and their ratios stay meaningful. Only one session exists at a time:
    an idle session's spinning thread pool would otherwise steal cores from the one being timed.
    """
    import onnxruntime as ort

    height, width = image_size if isinstance(image_size, (tuple, list)) else (image_size, image_size)
    batch = np.random.default_rng(0).standard_normal((batch_size, 3, height, width)).astype(np.float32)
    times = [[] for _ in onnx_paths]
    for _ in range(rounds):
        for path, samples in zip(onnx_paths, times):
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            feed = {session.get_inputs()[0].name: batch}
            for _ in range(warmup):
                session.run(None, feed)
            for _ in range(runs_per_round):
                start = time.perf_counter()
                session.run(None, feed)
                samples.append((time.perf_counter() - start) * 1000)
            del session
    return [float(np.median(samples)) for samples in times]

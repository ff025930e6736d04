"""Model cost figures: parameters, MACs (every convolution counted), ONNX Runtime latency."""

import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode


def count_params(model):
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_macs(model, image_size, device="cpu"):
    """Multiply-accumulates of one forward pass at batch 1 (FlopCounterMode counts 2 FLOPs per MAC)."""
    was_training = model.training
    model.eval()
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, image_size, image_size, device=device))
    model.train(was_training)
    return counter.get_total_flops() // 2


def ort_latency_ms(onnx_path, image_size, batch_size, warmup=3, runs=20, threads=None):
    """Median wall time of one ONNX Runtime CPU inference call, in milliseconds."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    batch = np.random.default_rng(0).standard_normal((batch_size, 3, image_size, image_size)).astype(np.float32)
    for _ in range(warmup):
        session.run(None, {name: batch})
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, {name: batch})
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))

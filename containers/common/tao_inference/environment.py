"""What a measurement ran on: the CPU (and its INT8 instructions), the GPU, the versions of what ran it."""

import importlib.metadata
import os
import platform
import shutil
import subprocess
from pathlib import Path

PACKAGES = ("tao-toolkit-oss", "torch", "torchvision", "torch-pruning", "onnx", "onnxruntime", "tensorrt", "numpy")


def cpu_summary(cpuinfo=Path("/proc/cpuinfo")):
    """The CPU that latencies were measured on, and its INT8 dot-product instructions: ONNX Runtime's INT8 kernels
    gain far more from VNNI than FP32 does (a pruned ResNet-18's INT8 over FP32: 1.56x with AVX2 alone, 2.07x with
    AVX512-VNNI), so INT8-over-FP32 ratios are only comparable between machines with the same answer here."""
    text = cpuinfo.read_text() if cpuinfo.exists() else ""
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    flags = set(fields.get("flags", "").split())
    vnni = sorted(flags & {"avx512_vnni", "avx_vnni", "amx_int8"})
    return {"model": fields.get("model name") or platform.processor() or platform.machine(),
            "int8_dot_product": ", ".join(vnni) or ("none (AVX2: vpmaddubsw)" if "avx2" in flags else "unknown")}


def gpu_summary():
    """The NVIDIA GPUs nvidia-smi lists (asked of the driver: no CUDA library loaded here), or none."""
    if shutil.which("nvidia-smi") is None:
        return "none (no NVIDIA driver)"
    try:
        names = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                               text=True, timeout=20).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return "unknown (nvidia-smi failed)"
    names = [n.strip() for n in names if n.strip()]
    return ", ".join(names) or "none"


def versions():
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def summary():
    return {"cpu": cpu_summary(), "cores": _cores(), "gpu": gpu_summary(), "python": platform.python_version(),
            "versions": versions()}


def _cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

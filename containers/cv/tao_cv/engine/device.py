"""Pick the compute device: CUDA when present (or asked for), else CPU. Each torchrun process takes the GPU of
its local rank."""

import torch

from tao_inference.errors import UserError
from .distributed import local_rank


def pick_device(requested="auto"):
    if requested == "cuda" and not torch.cuda.is_available():
        raise UserError("train.device is 'cuda' but no CUDA device is visible (use device=auto or cpu)")
    if requested in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda", local_rank())
    return torch.device("cpu")


def describe_devices():
    lines = [f"torch {torch.__version__}; cpu threads: {torch.get_num_threads()}"]
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        lines.append(f"cuda:{i} {props.name} ({props.total_memory / 2**30:.1f} GiB)")
    if not torch.cuda.is_available():
        lines.append("cuda: none visible — training and evaluation run on the CPU")
    return lines

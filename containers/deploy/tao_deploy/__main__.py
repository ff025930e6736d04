"""Deploy worker entry point: `python -m tao_deploy <task> gen_trt_engine|evaluate|inference|benchmark [args]` builds
TensorRT engines and runs exported models with no torch — evaluate / inference / benchmark are the cv worker's code
(tao_inference.commands) — and `python -m tao_deploy info` reports the inference runtimes this image can use.
User mistakes end with `error: ...` and exit code 2.

TensorRT and pycuda are imported lazily: they exist only in the deploy image (NVIDIA's TensorRT base).
"""

import argparse
import importlib
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from tao_inference import commands
from tao_inference.errors import UserError
from tao_inference.runtime import OnnxPredictor
from tao_inference.tasks import TASKS

from . import __version__, gen_trt_engine

err = Console(stderr=True, soft_wrap=True)
MODEL_KINDS = ".onnx model (FP32 or INT8) written by `tao model <task> export`, or a TensorRT .engine"


def _version(module_name):
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or a CUDA library missing at import time
        return f"not available ({type(exc).__name__}: {exc})".splitlines()[0]
    return getattr(module, "__version__", getattr(module, "VERSION", "installed"))


def info():
    print(f"tao_deploy worker {__version__}")
    for name in ("tensorrt", "pycuda", "onnxruntime"):
        print(f"{name}: {_version(name)}")
    try:
        import onnxruntime

        print(f"onnxruntime providers: {', '.join(onnxruntime.get_available_providers())}")
    except ImportError:
        pass


def open_model(path, spec=None):
    """The deploy worker runs exported models (their settings are fixed in the graph: `spec` changes none); a
    checkpoint needs the cv worker (torch)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".onnx":
        return OnnxPredictor(path)
    if suffix in (".engine", ".plan", ".trt"):
        from .tensorrt_engine import TrtPredictor

        return TrtPredictor(path)
    if suffix in (".pth", ".pt"):
        raise UserError(f"{path} is a PyTorch checkpoint: export it first (`tao model <task> export -m {path} -o "
                        "MODEL.onnx`), or evaluate it with `tao model <task> evaluate`")
    raise UserError(f"model {path}: expected an .onnx model or a TensorRT .engine")


def build_parser(task, prog=None):
    parser = argparse.ArgumentParser(prog=prog or f"tao deploy {task.name}", description=task.description)
    sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    p = sub.add_parser("gen_trt_engine", help="build a TensorRT engine (fp32 / fp16 / int8) from an exported .onnx")
    gen_trt_engine.add_arguments(p)
    p.set_defaults(run=lambda args: gen_trt_engine.gen_trt_engine(task, args, err))
    commands.add_subcommands(sub, task, open_model, MODEL_KINDS)
    commands.add_benchmark(sub, task, open_model, MODEL_KINDS, gen_trt_engine.benchmark_engines(task, err))
    return parser


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in ([], ["info"]):
        info()
        return 0
    if argv[0] in ("-h", "--help"):
        print(f"usage: python -m tao_deploy {{info,{','.join(TASKS)}}} SUBCOMMAND [args]")
        return 0
    if argv[0] not in TASKS:
        err.print(f"error: the deploy worker has no task '{argv[0]}'; available: info, {', '.join(TASKS)}")
        return 2
    args = commands.parse_task_args(build_parser(TASKS[argv[0]]), argv[1:])
    try:
        args.run(args)
    except UserError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

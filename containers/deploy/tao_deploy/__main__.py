"""Deploy worker entry point: `python -m tao_deploy info` reports the inference runtimes this image can use.

TensorRT and pycuda are imported lazily: they exist only in the deploy image (NVIDIA's TensorRT base).
"""

import importlib
import sys

from . import __version__


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


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in ([], ["info"]):
        info()
        return 0
    print(f"error: the deploy worker has no task '{' '.join(argv)}' yet; available: info", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

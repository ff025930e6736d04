"""TensorRT engines: `gen_trt_engine` (ONNX -> serialized engine + its sidecar contract) and the TensorRT predictor
that `evaluate` / `inference` / `benchmark` open for `.engine` files. Written to TensorRT's documented Python API
(10.x; the 8.x explicit-batch flag where it still exists) with device buffers through pycuda; both are imported
only here, when a TensorRT path runs.

- INT8 from a Q/DQ ONNX (`export --data_type int8`): explicit quantization, a strongly typed network, no calibrator.
- INT8 from an FP32 ONNX: the entropy calibrator (IInt8EntropyCalibrator2) on the calibration images, reading and
  writing the calibration cache (an existing cache — ours from `export --cal_cache_file` — needs no images).
- One optimization profile (min/opt/max batch), a timing cache reused across builds, the workspace pool limit.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tao_inference.contract import ModelInfo, read_contract
from tao_inference.errors import UserError
from tao_inference.fileio import atomic_path, write_json

NEEDS_TENSORRT = ("needs TensorRT, which is not installed here: run it in the deploy image (`tao deploy ...` with "
                  "Docker; build it with `docker compose build deploy`), or `pip install tensorrt pycuda` on a "
                  "machine with an NVIDIA GPU and driver")


def import_tensorrt(what="this"):
    try:
        import tensorrt
    except ImportError:
        raise UserError(f"{what} {NEEDS_TENSORRT}") from None
    return tensorrt


def import_pycuda():
    try:
        import pycuda.autoinit  # noqa: F401  (creates the CUDA context)
        import pycuda.driver as cuda
    except ImportError:
        raise UserError("TensorRT engines move data through pycuda, which is not installed: pip install pycuda") from None
    except Exception as exc:  # no GPU / driver: pycuda.autoinit raises a driver error
        raise UserError(f"no CUDA device for TensorRT ({type(exc).__name__}: {exc})") from None
    return cuda


def engine_sidecar(engine_path):
    return Path(str(engine_path) + ".json")


def is_qdq(onnx_path):
    """Our INT8 export writes QuantizeLinear/DequantizeLinear pairs: TensorRT's explicit quantization."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    return any(node.op_type in ("QuantizeLinear", "DequantizeLinear") for node in model.graph.node)


def asymmetric_activations(onnx_path):
    """Whether a Q/DQ graph quantizes activations as uint8 (export.int8_target=onnxruntime): TensorRT's explicit
    quantization takes only int8 with zero point 0."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    points = {init.name: init.data_type for init in model.graph.initializer}
    points.update({node.output[0]: node.attribute[0].t.data_type for node in model.graph.node
                   if node.op_type == "Constant" and node.attribute and node.attribute[0].HasField("t")})
    return any(len(node.input) > 2 and points.get(node.input[2]) == onnx.TensorProto.UINT8
               for node in model.graph.node if node.op_type == "QuantizeLinear")


@dataclass
class EngineSettings:
    data_type: str = "fp32"
    workspace_mb: int = 1024
    min_batch: int = 1
    opt_batch: int = 1
    max_batch: int = 1
    strict: bool = False
    cal_cache: Path | None = None
    timing_cache: Path | None = None

    def check(self):
        if not self.min_batch <= self.opt_batch <= self.max_batch:
            raise UserError(f"batch sizes must satisfy min <= opt <= max: got --min_batch_size {self.min_batch}, "
                            f"--opt_batch_size {self.opt_batch}, --max_batch_size {self.max_batch}")


def build_engine(onnx_path, engine_path, settings, calibration_batches=None, log=print):
    """Build and write the engine (atomically) and its sidecar; returns the sidecar dict."""
    trt = import_tensorrt("gen_trt_engine")
    _, contract = read_contract(onnx_path)
    explicit = is_qdq(onnx_path)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    creation = trt.NetworkDefinitionCreationFlag
    strongly_typed = explicit and hasattr(creation, "STRONGLY_TYPED")
    if strongly_typed:
        flags |= 1 << int(creation.STRONGLY_TYPED)
    if hasattr(creation, "EXPLICIT_BATCH") and int(trt.__version__.split(".")[0]) < 10:
        flags |= 1 << int(creation.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise UserError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, settings.workspace_mb << 20)
    calibrator = None
    if settings.data_type == "fp16" and not strongly_typed:
        config.set_flag(trt.BuilderFlag.FP16)
    if settings.data_type == "int8" and not strongly_typed:
        config.set_flag(trt.BuilderFlag.INT8)
        if not explicit:
            if not hasattr(trt, "IInt8EntropyCalibrator2"):
                raise UserError(f"TensorRT {trt.__version__} has no INT8 calibrator: build from a Q/DQ model "
                                "(`tao model <task> export --data_type int8`), which needs none")
            calibrator = entropy_calibrator(trt, calibration_batches, settings.cal_cache)
            config.int8_calibrator = calibrator
    if settings.strict:
        config.set_flag(getattr(trt.BuilderFlag, "OBEY_PRECISION_CONSTRAINTS", None)
                        or getattr(trt.BuilderFlag, "STRICT_TYPES"))
    dynamic = [t for t in (network.get_input(i) for i in range(network.num_inputs)) if tuple(t.shape)[0] == -1]
    if dynamic:  # a graph exported at a fixed batch (Mask R-CNN's) has no dynamic axis and takes no profile
        profile = builder.create_optimization_profile()
        for tensor in dynamic:
            sample = tuple(tensor.shape)[1:]
            profile.set_shape(tensor.name, (settings.min_batch, *sample), (settings.opt_batch, *sample),
                              (settings.max_batch, *sample))
        config.add_optimization_profile(profile)
        if calibrator is not None:
            config.set_calibration_profile(profile)
    cache_bytes = settings.timing_cache.read_bytes() if settings.timing_cache and settings.timing_cache.is_file() else b""
    timing_cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(timing_cache, ignore_mismatch=False)
    log(f"building the TensorRT {trt.__version__} engine ({settings.data_type}"
        f"{', explicit Q/DQ quantization' if explicit else ''}, batch {settings.min_batch}/{settings.opt_batch}/"
        f"{settings.max_batch}) — minutes for a large model")
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise UserError("TensorRT could not build the engine; its log above says why")
    with atomic_path(engine_path) as tmp:
        Path(tmp).write_bytes(bytes(serialized))
    if settings.timing_cache:
        with atomic_path(settings.timing_cache) as tmp:
            Path(tmp).write_bytes(bytes(config.get_timing_cache().serialize()))
    sidecar = {**contract, "data_type": settings.data_type, "tensorrt_version": trt.__version__,
               "explicit_quantization": explicit, "built_from": str(onnx_path),
               "batch_sizes": {"min": settings.min_batch, "opt": settings.opt_batch, "max": settings.max_batch}}
    write_json(engine_sidecar(engine_path), sidecar)
    return sidecar


def entropy_calibrator(trt, batches, cache_file):
    """TensorRT's entropy calibrator over preprocessed batches (numpy [B, 3, H, W]); an existing cache is read
    and no batch is asked for."""
    cuda = import_pycuda()

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            super().__init__()
            self.batches = iter(batches or [])
            self.batch_size = batches[0].shape[0] if batches else 1
            self.device = cuda.mem_alloc(batches[0].nbytes) if batches else None

        def get_batch_size(self):
            return self.batch_size

        def get_batch(self, names):
            batch = next(self.batches, None)
            if batch is None or self.device is None:
                return None
            cuda.memcpy_htod(self.device, np.ascontiguousarray(batch, dtype=np.float32))
            return [int(self.device)]

        def read_calibration_cache(self):
            return cache_file.read_bytes() if cache_file and Path(cache_file).is_file() else None

        def write_calibration_cache(self, cache):
            if cache_file:
                with atomic_path(cache_file) as tmp:
                    Path(tmp).write_bytes(bytes(cache))

    return EntropyCalibrator()


class TrtPredictor:
    """A serialized engine behind the predictor interface: pinned host buffers, device buffers and one CUDA stream;
    batches larger than the engine's max batch run in pieces, smaller than its min are padded."""

    def __init__(self, path):
        trt = import_tensorrt(f"running {path}")
        sidecar_file = engine_sidecar(path)
        if not Path(path).is_file():
            raise UserError(f"engine {path} does not exist")
        if not sidecar_file.is_file():
            raise UserError(f"{path} has no contract ({sidecar_file}): build it with `tao deploy <task> gen_trt_engine`")
        sidecar = json.loads(sidecar_file.read_text())
        built = sidecar.get("tensorrt_version")
        if built != trt.__version__:
            raise UserError(f"{path} was built with TensorRT {built}; this is TensorRT {trt.__version__}. An engine "
                            "runs only on the TensorRT version (and GPU) that built it: build it again here with "
                            f"`tao deploy {sidecar.get('task', '<task>')} gen_trt_engine -m {sidecar.get('built_from', 'MODEL.onnx')}`")
        self.cuda = import_pycuda()
        self.info = ModelInfo.from_dict(sidecar, source=str(path))
        self.kind, self.decoder, self.device = f"tensorrt-{sidecar['data_type']}", sidecar.get("decoder") or {}, "CUDA"
        self.batch_sizes = sidecar.get("batch_sizes", {"min": 1, "max": 1})
        self.engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(Path(path).read_bytes())
        if self.engine is None:
            raise UserError(f"TensorRT {trt.__version__} cannot load {path} (built with {built} for another GPU?): "
                            "build it again here with gen_trt_engine")
        self.context = self.engine.create_execution_context()
        self.stream = self.cuda.Stream()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input_name = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        order = [o["name"] for o in sidecar.get("outputs", [])]
        self.output_names = [n for n in order if n in names] or [n for n in names if n != self.input_name]
        self.buffers = {}

    def _buffers(self, shape):
        if shape not in self.buffers:
            self.context.set_input_shape(self.input_name, shape)
            host = {self.input_name: self.cuda.pagelocked_empty(shape, np.float32)}
            for name in self.output_names:
                host[name] = self.cuda.pagelocked_empty(tuple(self.context.get_tensor_shape(name)), np.float32)
            device = {name: self.cuda.mem_alloc(array.nbytes) for name, array in host.items()}
            self.buffers[shape] = (host, device)
        return self.buffers[shape]

    def _run(self, batch):
        host, device = self._buffers(batch.shape)
        self.context.set_input_shape(self.input_name, batch.shape)
        np.copyto(host[self.input_name], batch)
        for name, pointer in device.items():
            self.context.set_tensor_address(name, int(pointer))
        self.cuda.memcpy_htod_async(device[self.input_name], host[self.input_name], self.stream)
        self.context.execute_async_v3(self.stream.handle)
        for name in self.output_names:
            self.cuda.memcpy_dtoh_async(host[name], device[name], self.stream)
        self.stream.synchronize()
        return [host[name].copy() for name in self.output_names]

    def __call__(self, batch):
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        low, high = int(self.batch_sizes.get("min", 1)), int(self.batch_sizes.get("max", 1))
        pieces = []
        for start in range(0, len(batch), high):
            chunk = batch[start:start + high]
            real = len(chunk)
            if real < low:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], low - real, axis=0)])
            pieces.append([out[:real] for out in self._run(chunk)])
        return tuple(np.concatenate([piece[i] for piece in pieces]) for i in range(len(self.output_names)))

"""INT8 from calibration images, two ways:

* an explicit-quantization Q/DQ ONNX (onnxruntime.quantization): runs on ONNX Runtime CPU, and is what
  TensorRT >= 10 builds INT8 engines from;
* a TensorRT calibration cache for implicit quantization in older TensorRT: first line
  `TRT-<version>-EntropyCalibration2`, then `tensor_name: <hex>` per tensor, hex = big-endian float32 amax/127.
"""

import struct
import tempfile
from pathlib import Path

import numpy as np

from tao_inference.fileio import atomic_path, write_text

TRT_CACHE_VERSION = 8601  # the TensorRT version tag written in the cache header (8.6.1)


class ImageBatches:
    """onnxruntime CalibrationDataReader over preprocessed image batches (numpy NCHW float32)."""

    def __init__(self, batches, input_name):
        self.batches, self.input_name = list(batches), input_name
        self._iter = iter(self.batches)

    def get_next(self):
        batch = next(self._iter, None)
        return None if batch is None else {self.input_name: batch}

    def rewind(self):
        self._iter = iter(self.batches)


def _method(name):
    from onnxruntime.quantization import CalibrationMethod

    return {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
            "percentile": CalibrationMethod.Percentile}[name]


def first_and_last_layers(onnx_path, heads=1):
    """Names of the first convolution and the last `heads` weighted layers (the classifier, or a detector's
    output heads) of a graph."""
    import onnx

    weighted = [n.name for n in onnx.load(str(onnx_path)).graph.node if n.op_type in ("Conv", "Gemm", "MatMul")]
    return sorted({weighted[0], *weighted[-heads:]}) if weighted else []


def nodes_of_modules(onnx_path, modules):
    """Names of the graph's nodes that the named modules (e.g. `net.backbone`) exported: torch.onnx names a node by
    its module path (/net/backbone/...)."""
    import onnx

    prefixes = tuple("/" + module.replace(".", "/") + "/" for module in modules)
    return [n.name for n in onnx.load(str(onnx_path)).graph.node if n.name.startswith(prefixes)]


def quantize_qdq(fp32_path, output, batches, input_name, method="minmax", target="onnxruntime", fp32_ends=False,
                 heads=1, modules=None):
    """Static INT8 Q/DQ quantization with per-channel int8 weights.

    target 'onnxruntime': asymmetric uint8 activations (U8S8), the fast path of ORT's x86 CPU kernels;
    target 'tensorrt': symmetric int8 activations (zero point 0), which TensorRT's explicit quantization requires.
    fp32_ends keeps the first convolution and the classifier in FP32: quantizing the stem is what lost accuracy
    in a pruned EfficientNet-Lite0 (77 % -> 98 % top-1 with it FP32: x86 CPUs without VNNI sum u8*s8 pairs into
    saturating int16, and the stem multiplies raw image values by full-range weights), but in ResNet-18 the stem is
    a quarter of the pruned MACs, so keeping it FP32 costs speed (the caller decides, see quantize_checked).
    modules: quantize only the nodes these modules exported (None: the whole graph).
    """
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    symmetric = target == "tensorrt"
    with tempfile.TemporaryDirectory() as work, atomic_path(output) as tmp:
        prepared = str(Path(work) / "prepared.onnx")
        quant_pre_process(str(fp32_path), prepared, skip_symbolic_shape=True)
        quantize_static(prepared, str(tmp), ImageBatches(batches, input_name), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QInt8 if symmetric else QuantType.QUInt8,
                        weight_type=QuantType.QInt8, per_channel=True, calibrate_method=_method(method),
                        nodes_to_quantize=nodes_of_modules(prepared, modules) if modules else None,
                        nodes_to_exclude=first_and_last_layers(prepared, heads) if fp32_ends else [],
                        extra_options={"ActivationSymmetric": symmetric, "WeightSymmetric": True})


def tensor_ranges(fp32_path, batches, input_name, method="minmax"):
    """amax per tensor of the FP32 graph over the calibration batches."""
    from onnxruntime.quantization.calibrate import create_calibrator

    with tempfile.TemporaryDirectory() as work:
        calibrator = create_calibrator(str(fp32_path), augmented_model_path=str(Path(work) / "augmented.onnx"),
                                       calibrate_method=_method(method))
        calibrator.collect_data(ImageBatches(batches, input_name))
        ranges = calibrator.compute_data()
    return {name: float(max(np.max(np.abs(np.asarray(v))) for v in value.range_value))
            for name, value in ranges.data.items()}


def trt_cache_text(amax, version=TRT_CACHE_VERSION):
    lines = [f"TRT-{version}-EntropyCalibration2"]
    for name, value in sorted(amax.items()):
        scale = value / 127.0 if value > 0 else 1.0 / 127.0
        lines.append(f"{name}: {struct.pack('>f', scale).hex()}")
    return "\n".join(lines) + "\n"


def write_trt_cache(path, amax, version=TRT_CACHE_VERSION):
    write_text(path, trt_cache_text(amax, version))

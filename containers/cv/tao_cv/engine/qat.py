"""Quantization-aware training (train.enable_qat), on PyTorch's own tooling: torch.ao's FX graph mode traces the
network and inserts the fake quantization (`prepare_qat_fx`: conv + BN (+ ReLU) fused into modules that simulate
the folding, a FakeQuantize on every quantized tensor). Its observers are the INT8 export's: per-channel symmetric
int8 weights and per-tensor min/max activations, uint8 asymmetric for ONNX Runtime or int8 symmetric for TensorRT
(export.int8_target, read when training starts).

Two edits make the simulated network the one that is deployed (both are FX graph edits of nodes torch.fx traced):
  * training: no fake quantization between a layer and the clamp (ReLU, ReLU6) after it, and a zero padding's
    output shares its input's quantizer. INT8 kernels requantize a convolution's output straight to the scale
    after its activation, and pad in the quantized domain: what QAT learns is what they compute.
  * export (`export_network`): BN folded into the convolution (exactly what the fused module simulates in eval),
    then what is exact in the quantized graph dropped: a clamp whose bounds its quantizer saturates at anyway, a
    padding's second quantizer (it repeats its input's). ONNX Runtime then fuses every DQ -> Conv -> Q into one
    QLinearConv, as for the calibrated INT8 model.
The exported graph holds the learned scales as Q/DQ pairs: no calibration step.
"""

import copy
import warnings

import torch
import torch.nn.functional as F

from tao_inference.errors import UserError

ACTIVATION_TYPES = {"onnxruntime": "uint8", "tensorrt": "int8"}  # export.int8_target -> activation type
CLAMPS = (torch.nn.ReLU, torch.nn.ReLU6, torch.nn.Hardtanh)
CLAMP_FUNCTIONS = (F.relu, F.relu6, F.hardtanh, torch.relu)


def qconfig(activations):
    """The fake quantizers of the INT8 export's observers: `activations` 'uint8' (asymmetric) or 'int8'
    (symmetric, zero point 0); weights int8, symmetric per output channel."""
    from torch.ao.quantization import (FakeQuantize, MovingAverageMinMaxObserver,
                                       MovingAveragePerChannelMinMaxObserver, QConfig)

    if activations == "uint8":
        act = FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
                                     dtype=torch.quint8, qscheme=torch.per_tensor_affine)
    else:
        act = FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=-128, quant_max=127,
                                     dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
    # ONNX's QuantizeLinear takes the full int8 range only (-128..127), also for symmetric weights.
    weight = FakeQuantize.with_args(observer=MovingAveragePerChannelMinMaxObserver, quant_min=-128, quant_max=127,
                                    dtype=torch.qint8, qscheme=torch.per_channel_symmetric, ch_axis=0)
    return QConfig(activation=act, weight=weight)


class QuantizationAware(torch.nn.Module):
    """A network with fake quantization: `network` (prepare_qat_fx's GraphModule) runs forward and holds every
    weight. The network's other methods — anchors, priors, feature-map sizes, which depend on the architecture
    only — are answered by the float network it was traced from (kept unregistered: its weights are not used)."""

    def __init__(self, float_model, graph):
        super().__init__()
        self.network = graph
        self.__dict__["float_model"] = float_model

    def forward(self, *args):
        return self.network(*args)

    def train(self, mode=True):
        """Observers follow the mode: ranges are learned in training, frozen in evaluation (an evaluation that
        moved them would change the model it measures)."""
        from torch.ao.quantization import disable_observer, enable_observer

        super().train(mode)
        self.network.apply(enable_observer if mode else disable_observer)
        return self

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.__dict__["float_model"], name)


def prepare(model, info, activations):
    """`model` (float, any registered network) with fake quantization inserted, in training mode: its observers
    have seen nothing yet (train it, or load a QAT checkpoint's state into it)."""
    from torch.ao.quantization import QConfigMapping
    from torch.ao.quantization.quantize_fx import prepare_qat_fx

    example = torch.zeros(2, 3, info.input_height, info.input_width)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's notice that this API's successor lives in torchao
        try:
            graph = prepare_qat_fx(copy.deepcopy(model).train(), QConfigMapping().set_global(qconfig(activations)),
                                   (example,))
        except Exception as exc:  # torch.fx's TraceError and what its proxies raise inside the network's code
            raise UserError(f"train.enable_qat: torch.fx cannot trace {info.task} ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:160]}); train without QAT and export --data_type int8 "
                            "(calibrated)") from None
    _deployed_structure(graph)
    return QuantizationAware(model, graph).train()


def _is_module(graph, node, types):
    return node.op == "call_module" and isinstance(graph.get_submodule(node.target), types)


def _is_clamp(graph, node):
    return _is_module(graph, node, CLAMPS) or (node.op == "call_function" and node.target in CLAMP_FUNCTIONS)


def _fake_quantize(graph, node):
    from torch.ao.quantization import FakeQuantize

    return _is_module(graph, node, FakeQuantize)


def _padding_of_quantized(graph, node):
    """node = FakeQuantize(ZeroPad2d(FakeQuantize(x))): returns the inner quantizer's node, else None."""
    pad = node.args[0] if node.args else None
    if pad is not None and _is_module(graph, pad, torch.nn.ZeroPad2d) and _fake_quantize(graph, pad.args[0]):
        return pad.args[0]
    return None


def _finish(graph):
    graph.graph.lint()
    graph.delete_all_unused_submodules()
    graph.recompile()


def _deployed_structure(graph):
    for node in list(graph.graph.nodes):
        if not _fake_quantize(graph, node):
            continue
        users = list(node.users)
        if (len(users) == 1 and _is_clamp(graph, users[0]) and users[0].users
                and all(_fake_quantize(graph, u) for u in users[0].users)):
            node.replace_all_uses_with(node.args[0])
            graph.graph.erase_node(node)
        elif (inner := _padding_of_quantized(graph, node)) is not None:
            node.target = inner.target  # the same quantizer: zero padding keeps the scale
    _finish(graph)


def _fold_batch_norms(graph):
    """Each fused conv + BN (+ ReLU) as a plain QAT conv (+ ReLU) with BN folded into its weights and bias: what
    the fused module computes in eval mode (running statistics), with the same weight quantizer."""
    import torch.ao.nn.intrinsic.qat as nniqat
    import torch.ao.nn.qat as nnqat

    for path, module in list(graph.named_modules()):
        if not isinstance(module, (nniqat.ConvBn2d, nniqat.ConvBnReLU2d)):
            continue
        bn = module.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        bias = module.bias if module.bias is not None else torch.zeros_like(bn.running_mean)
        cls = nniqat.ConvReLU2d if isinstance(module, nniqat.ConvBnReLU2d) else nnqat.Conv2d
        conv = cls(module.in_channels, module.out_channels, module.kernel_size, module.stride, module.padding,
                   module.dilation, module.groups, True, module.padding_mode, qconfig=module.qconfig)
        conv.weight_fake_quant = module.weight_fake_quant
        with torch.no_grad():
            conv.weight.copy_(module.weight * scale.reshape(-1, 1, 1, 1))
            conv.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
        parent, _, name = path.rpartition(".")
        setattr(graph.get_submodule(parent) if parent else graph, name, conv)


def _clamp_bounds(graph, node):
    if node.op == "call_module":
        module = graph.get_submodule(node.target)
        if isinstance(module, torch.nn.ReLU):
            return 0.0, float("inf")
        return module.min_val, module.max_val  # ReLU6 is a Hardtanh(0, 6)
    if node.target in (F.relu, torch.relu):
        return 0.0, float("inf")
    if node.target is F.relu6:
        return 0.0, 6.0
    return node.kwargs.get("min_val", node.args[1] if len(node.args) > 1 else -1.0), \
        node.kwargs.get("max_val", node.args[2] if len(node.args) > 2 else 1.0)


def _saturation_edges(module):
    """(lowest, highest) input beyond which the quantizer outputs its bottom (top) level: half a step inside its
    range."""
    scale, zero = float(module.scale.flatten()[0]), int(module.zero_point.flatten()[0])
    return (module.quant_min - zero + 0.5) * scale, (module.quant_max - zero - 0.5) * scale


def _drop_exact(graph):
    """Remove what the quantizers already do: a clamp whose bounds lie beyond its quantizers' saturation, a
    padding's repeated quantizer (quantizing an already quantized tensor with its own scale changes nothing)."""
    for node in list(graph.graph.nodes):
        if _is_clamp(graph, node) and node.users and all(_fake_quantize(graph, u) for u in node.users):
            low, high = _clamp_bounds(graph, node)
            edges = [_saturation_edges(graph.get_submodule(u.target)) for u in node.users]
            # exact when what the clamp cuts off saturates the quantizer anyway: below its bottom edge, above its top
            if all(low <= bottom and high >= top for bottom, top in edges):
                node.replace_all_uses_with(node.args[0])
                graph.graph.erase_node(node)
        elif _fake_quantize(graph, node) and (inner := _padding_of_quantized(graph, node)) is not None \
                and inner.target == node.target:
            node.replace_all_uses_with(node.args[0])
            graph.graph.erase_node(node)
    _finish(graph)


def export_network(model):
    """The module torch.onnx exports from a QuantizationAware network: eval mode, observers frozen (the learned
    scales), BN folded, exact no-ops dropped; it computes what `model.eval()` computes."""
    from torch.ao.quantization import disable_observer

    graph = copy.deepcopy(model.network).eval()
    graph.apply(disable_observer)  # as model.eval() does
    _fold_batch_norms(graph)
    _drop_exact(graph)
    return _Exported(graph)


class _Exported(torch.nn.Module):
    """Hides the GraphModule's `graph` attribute from torch.onnx, which reads a `model.graph` as TorchScript's."""

    def __init__(self, graph):
        super().__init__()
        self.network = graph

    def forward(self, x):
        return self.network(x)

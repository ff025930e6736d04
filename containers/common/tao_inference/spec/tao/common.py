"""Mapping steps that several TAO networks share: backbone names, optimizers, learning-rate schedules,
regularizers, pretrained weights and the knobs every TAO trainer has that ours handles another way."""

import math

# TAO `arch` (+ layers) -> our registered backbone. A name missing here is reported with the list of ours.
_ARCHS = {("resnet", 18): "resnet18", ("resnet", 34): "resnet34", ("resnet", 50): "resnet50",
          ("vgg", 16): "vgg16", ("efficientnet_b0", None): "efficientnet_b0",
          ("efficientnet_lite0", None): "efficientnet_lite0", ("mobilenet_v2", None): "mobilenet_v2",
          ("mobilenet_v3_small", None): "mobilenet_v3_small", ("mobilenet_v3_large", None): "mobilenet_v3_large"}
OUR_BACKBONES = "resnet18, resnet34, resnet50, vgg16, efficientnet_b0, efficientnet_lite0, mobilenet_v2, " \
                "mobilenet_v3_small, mobilenet_v3_large"

GPU_ONLY = "GPU/TensorFlow-specific; ours has no equivalent setting"


def backbone(view, arch_key="arch", layers_keys=("num_layers", "n_layers", "nlayers")):
    """`arch: "resnet"` + `num_layers: 18` -> `model.backbone: resnet18`."""
    if not view.has(arch_key):
        return
    arch = str(view.get(arch_key)).lower()
    layers_key = next((k for k in layers_keys if view.has(k)), None)
    layers = view.get(layers_key) if layers_key else None
    if ":" in arch:  # TAO FasterRCNN writes "resnet:18"
        arch, _, written = arch.partition(":")
        layers = int(written) if written.isdigit() else written
    name = _ARCHS.get((arch, layers)) or _ARCHS.get((arch, None))
    if name is None:
        written = f"{arch}{layers if layers is not None else ''}"
        view.unsupported(arch_key, f"backbone {written!r} is not one of ours ({OUR_BACKBONES}); set "
                                   "model.backbone to one of them")
        if layers_key:
            view.ignore(layers_key, "part of the backbone name")
        return
    view.mapper.put("model.backbone", name, view.full(arch_key))
    if layers_key:
        view.ignore(layers_key, f"part of the backbone name ({name})")


def pretrained(view, name):
    """TAO's .hdf5/.tlt weights are Keras files (often encrypted): they cannot start our networks."""
    value = view.get(name)
    if value in (None, ""):
        view.ignore(name, "empty")
    elif str(value).endswith((".pth", ".pt")) or value == "imagenet":
        view.map(name, "model.pretrained")
    else:
        view.ignore(name, f"{value!r} is a TAO (Keras/TLT) weights file, which our PyTorch networks cannot load; "
                          "training starts from scratch unless you set model.pretrained (imagenet for "
                          "efficientnet_lite0, or a .pth)")


def optimizer(view):
    """`optimizer { sgd { momentum nesterov } | adam { epsilon beta1 beta2 } | ... }` (one child message)."""
    for name in view.names():
        inner = view.sub(name)
        if name in ("sgd", "adam", "adamw"):
            view.mapper.put("train.optimizer.name", name, inner.key)
            inner.map("lr", "train.optimizer.lr", float)
            inner.map("momentum", "train.optimizer.momentum", float)
            inner.map("weight_decay", "train.optimizer.weight_decay", float)
            inner.ignore_unless("nesterov", (False,), "Nesterov momentum is not implemented")
            inner.ignore_unless("decay", (0, 0.0), "a per-step learning-rate decay; use train.lr_scheduler")
            for key in ("epsilon", "beta1", "beta2", "beta_1", "beta_2", "amsgrad"):
                inner.ignore(key, "PyTorch's Adam defaults are used (betas 0.9/0.999, eps 1e-8)")
        else:
            view.unsupported(name, f"optimizer {name!r}: ours are sgd, adam, adamw")


def regularizer(view, type_key="type", weight_key="weight"):
    """`regularizer { type: L2 weight: 5e-5 }`: L2 is weight decay; L1 (TAO's sparsity push before pruning) is not."""
    if not view.node:
        return
    kind = str(view.get(type_key, "")).upper().strip('"')
    if kind in ("L2",):
        view.map(weight_key, "train.optimizer.weight_decay", float)
        view.ignore(type_key, "L2 is our optimizer.weight_decay")
    elif kind in ("NO_REG", "NONE", ""):
        view.mapper.put("train.optimizer.weight_decay", 0.0, view.full(type_key))
        view.ignore(weight_key, "no regularizer")
    else:
        view.ignore(type_key, f"{kind} regularization is not implemented: weight decay (L2) stays at our default; "
                              "pruning works without it")
        view.ignore(weight_key, f"the {kind} weight")
    view.ignore("scope", "weight decay applies to every trainable weight")


def _learning_rate_range(view, scheduler):
    """A TAO schedule's max_learning_rate / min_learning_rate as our lr and min_lr_ratio, under `scheduler`."""
    high = float(view.get("max_learning_rate", 0) or 0)
    view.mapper.put("train.lr_scheduler.name", scheduler, view.key)
    view.map("max_learning_rate", "train.optimizer.lr", float)
    if view.has("min_learning_rate") and high > 0:
        view.map("min_learning_rate", "train.lr_scheduler.min_lr_ratio", lambda v: min(1.0, float(v) / high))


def soft_start_annealing(view):
    """TAO's detector schedule {min_learning_rate, max_learning_rate, soft_start, annealing} is our soft_anneal."""
    if not view.node:
        return
    _learning_rate_range(view, "soft_anneal")
    view.map("soft_start", "train.lr_scheduler.soft_start", float)
    view.map("annealing", "train.lr_scheduler.annealing_start", float)


def soft_start_cosine(view, num_epochs):
    """TAO's soft_start_cosine_annealing_schedule {max/min_learning_rate, soft_start}: a linear warm-up over the
    soft_start fraction, then cosine down to the minimum — our cosine with warm-up epochs."""
    if not view.node:
        return
    _learning_rate_range(view, "cosine")
    view.map("soft_start", "train.lr_scheduler.warmup_epochs", lambda v: warmup_epochs(v, num_epochs))


def warmup_epochs(fraction, num_epochs):
    """TAO gives warm-up as a fraction of the run; ours counts epochs (our default run: 10 epochs)."""
    return int(math.ceil(float(fraction) * (num_epochs or 10) - 1e-9))


def visualizer(view):
    """TAO's `visualizer {enabled, num_images, ...}` (TensorBoard) -> train.tensorboard / tensorboard_images."""
    if not view.has("visualizer"):
        return
    shown = view.sub("visualizer")
    shown.map("enabled", "train.tensorboard", bool)
    shown.map("num_images", "train.tensorboard_images", int)
    for name in shown.names():
        if name not in ("enabled", "num_images"):
            shown.ignore(name, "TensorBoard gets every epoch's metrics and images, and the loss every 10 steps")


def training_switches(view, gpu_only=("max_queue_size", "use_multiprocessing", "early_stopping", "model_parallelism")):
    """What every TF1 network's training_config shares: QAT, TensorBoard, and knobs of TAO's TensorFlow runtime."""
    view.map("enable_qat", "train.enable_qat", bool)
    visualizer(view)
    for name in gpu_only:
        view.ignore(name, GPU_ONLY)

"""TAO classification specs: the TF1 protobuf text (`classification_spec.cfg`: model_config, train_config,
eval_config) and TAO 5's `classification_pyt` YAML (model.backbone/head, dataset.data, train.train_config)."""

from . import common

def tf1(mapper):
    top = mapper.view()
    top.map("random_seed", "train.seed", int)
    model = top.sub("model_config")
    common.backbone(model)
    size = str(model.get("input_image_size", "")).replace(" ", "").split(",")
    if model.has("input_image_size"):
        if len(size) == 3 and size[1] == size[2] and size[1].isdigit():
            model.map("input_image_size", "dataset.image_size", lambda v: int(size[1]))
            if size[0] != "3":
                mapper.unsupported(model.full("input_image_size"), f"{size[0]} channels: ours train on RGB (3)")
        else:
            model.unsupported("input_image_size", "ours trains on square images: give \"3,S,S\"")
    model.map("dropout", "model.dropout", float)
    for name in ("use_batch_norm", "use_bias", "all_projections", "use_pooling", "freeze_bn"):
        model.ignore(name, "our backbones are torchvision's (batch norm, projection shortcuts as built)")
    model.ignore_unless("freeze_blocks", (0, [0]), "freezing blocks is not implemented; "
                                                   "train.freeze_backbone_epochs freezes the whole backbone for N epochs")
    model.ignore_unless("retain_head", (False,), "the head is always built for the data's classes")
    model.ignore("resize_interpolation_method", "images are resized bilinearly")

    train = top.sub("train_config")
    folders(train, "train_dataset_path", "train")
    folders(train, "val_dataset_path", "val")
    common.pretrained(train, "pretrained_model_path")
    train.map("batch_size_per_gpu", "train.batch_size", int)
    train.map("n_epochs", "train.num_epochs", int)
    train.map("n_workers", "dataset.num_workers", int)
    train.map("label_smoothing", "train.label_smoothing", float)
    train.map("random_seed", "train.seed", int)
    train.map("checkpoint_interval", "train.checkpoint_interval", int)
    train.ignore_unless("mixup_alpha", (0, 0.0), "mixup is not implemented")
    train.ignore("preprocess_mode", "images are normalized with the backbone's mean/std (dataset.mean/std override "
                                    "it); the exported model records them")
    train.ignore("enable_center_crop", "evaluation resizes the whole image to dataset.image_size")
    if train.get("enable_random_crop") is False:
        mapper.put("dataset.augmentation.random_resized_crop_scale", [1.0, 1.0], train.full("enable_random_crop"))
    else:
        train.ignore("enable_random_crop", "random resized crops are on (dataset.augmentation)")
    if train.get("enable_color_augmentation") is False:
        for key in ("brightness", "contrast", "saturation", "hue"):
            mapper.put(f"dataset.augmentation.{key}", 0.0, train.full("enable_color_augmentation"))
    else:
        train.ignore("enable_color_augmentation", "colour augmentation is on (dataset.augmentation)")
    common.training_switches(train, gpu_only=("model_parallelism", "use_multiprocessing"))
    train.map("disable_horizontal_flip", "dataset.augmentation.horizontal_flip", lambda v: 0.0 if v else 0.5)
    common.optimizer(train.sub("optimizer"))
    reg = train.sub("reg_config")
    common.regularizer(reg, weight_key="weight_decay")
    lr_schedule(mapper, train.sub("lr_config"), train.get("n_epochs"))

    evaluation = top.sub("eval_config")
    folders(evaluation, "eval_dataset_path", "test")
    evaluation.map("model_path", "evaluate.checkpoint")
    evaluation.map("top_k", "evaluate.top_k", int)
    evaluation.map("batch_size", "evaluate.batch_size", int)
    evaluation.ignore("n_workers", "dataset.num_workers is used")
    evaluation.ignore("enable_center_crop", "evaluation resizes the whole image to dataset.image_size")
    evaluation.ignore("classmap", "the class names are stored in the model")


def folders(view, name, split):
    """TAO's `*_dataset_path`: a folder of class folders, as our dataset.<split>_dir."""
    view.map(name, f"dataset.{split}_dir")


def lr_schedule(mapper, view, num_epochs):
    """`lr_config { step {...} | soft_anneal {...} | cosine {...} }`; its learning_rate is the one TAO trains with."""
    for name in view.names():
        inner = view.sub(name)
        inner.map("learning_rate", "train.optimizer.lr", float)
        if name == "step":
            mapper.put("train.lr_scheduler.name", "step", inner.key)
            inner.map("step_size", "train.lr_scheduler.step_size", int)
            inner.map("gamma", "train.lr_scheduler.gamma", float)
        elif name == "cosine":
            mapper.put("train.lr_scheduler.name", "cosine", inner.key)
            inner.map("min_lr_ratio", "train.lr_scheduler.min_lr_ratio", float)
            inner.map("soft_start", "train.lr_scheduler.warmup_epochs", lambda v: common.warmup_epochs(v, num_epochs))
        elif name == "soft_anneal":
            points = inner.get("annealing_points") or []
            points = points if isinstance(points, list) else [points]
            divider = float(inner.get("annealing_divider", 10) or 10)
            mapper.put("train.lr_scheduler.name", "soft_anneal", inner.key)
            inner.map("soft_start", "train.lr_scheduler.soft_start", float)
            if points:
                inner.map("annealing_points", "train.lr_scheduler.annealing_start", lambda v: float(points[0]))
                inner.map("annealing_divider", "train.lr_scheduler.min_lr_ratio",
                          lambda v: max(1e-8, divider ** -len(points)))
                mapper.note(f"{inner.key}: TAO divides the rate by {divider:g} at each of {points}; ours decays "
                            f"log-linearly from {points[0]} of the run to the same final rate (a smooth version)")
        else:
            view.unsupported(name, f"schedule {name!r}: ours are step, cosine, soft_anneal (TAO's names)")


# ---------------------------------------------------------------- TAO 5 classification_pyt (YAML)

_PYT_BACKBONES = {"resnet_18": "resnet18", "resnet_34": "resnet34", "resnet_50": "resnet50", "resnet18": "resnet18",
                  "resnet34": "resnet34", "resnet50": "resnet50", "efficientnet_b0": "efficientnet_b0",
                  "efficientnet_lite0": "efficientnet_lite0", "mobilenet_v2": "mobilenet_v2"}


def pyt(mapper):
    top = mapper.view()
    top.map("results_dir", "results_dir")
    top.ignore("encryption_key", "checkpoints are plain PyTorch files (no encryption)")
    model = top.sub("model")
    backbone = model.sub("backbone")
    if backbone.has("type"):
        name = _PYT_BACKBONES.get(str(backbone.get("type")).lower())
        if name:
            backbone.map("type", "model.backbone", lambda v: name)
        else:
            backbone.unsupported("type", f"backbone {backbone.get('type')!r} is not one of ours "
                                         f"({common.OUR_BACKBONES}); set model.backbone")
    common.pretrained(backbone, "pretrained")
    if backbone.get("freeze") is True:
        mapper.put("train.freeze_backbone_epochs", 100_000, backbone.full("freeze"))
    else:
        backbone.ignore("freeze", "the backbone trains")
    backbone.ignore("custom_args", "backbone options of TAO's own architectures")
    head = model.sub("head")
    head.ignore("type", "a linear head on the pooled features (model.dropout before it)")
    head.ignore("num_classes", "the classes are the data's class folders")
    head.ignore("custom_args", "head options of TAO's own architectures")
    if head.has("topk"):
        head.map("topk", "evaluate.top_k", lambda v: int(max(v) if isinstance(v, list) else v))
    loss = head.sub("loss")
    loss.ignore("type", "cross-entropy (train.label_smoothing for a smoothed one)")
    loss.map("label_smooth_val", "train.label_smoothing", float)
    loss.ignore("loss_weight", "one loss")
    loss.ignore("use_soft", "hard labels")
    model.ignore("init_cfg", "weights start from model.pretrained or at random")

    data = top.sub("dataset").sub("data")
    data.map("samples_per_gpu", "train.batch_size", int)
    data.map("workers_per_gpu", "dataset.num_workers", int)
    for split in ("train", "val", "test"):
        part = data.sub(split)
        part.map("data_prefix", f"dataset.{split}_dir")
        part.unsupported("ann_file", "an annotation list of `FILE LABEL_ID` lines: ours reads class folders "
                                     "(data_prefix) or dataset.image_root + dataset.<split>_list of CLASS/FILE lines")
        part.ignore("classes", "the classes are the class folders' names")
        part.ignore("type", "an image-folder dataset")
        if split == "train":
            pipeline(mapper, part)
        else:
            part.ignore("pipeline", "evaluation resizes to dataset.image_size and normalizes")
    top.sub("dataset").ignore("img_norm_cfg", "images are normalized with the backbone's mean/std")

    train = top.sub("train")
    config = train.sub("train_config")
    config.sub("runner").map("max_epochs", "train.num_epochs", int)
    config.sub("checkpoint_config").map("interval", "train.checkpoint_interval", int)
    optim = config.sub("optimizer")
    if optim.has("type"):
        kind = str(optim.get("type")).lower()
        if kind in ("sgd", "adam", "adamw"):
            optim.map("type", "train.optimizer.name", lambda v: kind)
        else:
            optim.unsupported("type", f"optimizer {optim.get('type')!r}: ours are SGD, Adam, AdamW")
    optim.map("lr", "train.optimizer.lr", float)
    optim.map("weight_decay", "train.optimizer.weight_decay", float)
    optim.map("momentum", "train.optimizer.momentum", float)
    optim.ignore("betas", "PyTorch's Adam defaults are used (betas 0.9/0.999)")
    config.sub("optimizer_config").ignore("grad_clip", "gradients are not clipped")
    lr = config.sub("lr_config")
    policy = str(lr.get("policy", "")).lower()
    if policy in ("cosineannealing", "cosine"):
        lr.map("policy", "train.lr_scheduler.name", lambda v: "cosine")
        optim_lr = float(optim.get("lr", 0) or 0)
        if optim_lr > 0:
            lr.map("min_lr", "train.lr_scheduler.min_lr_ratio", lambda v: min(1.0, float(v) / optim_lr))
    elif policy == "step":
        lr.map("policy", "train.lr_scheduler.name", lambda v: "step")
        lr.map("step", "train.lr_scheduler.step_size", lambda v: int(v[0] if isinstance(v, list) else v))
        lr.map("gamma", "train.lr_scheduler.gamma", float)
    elif policy:
        lr.unsupported("policy", f"policy {lr.get('policy')!r}: ours are CosineAnnealing and Step")
    if lr.get("warmup"):
        iters = lr.get("warmup_iters", 0) or 0
        if lr.get("warmup_by_epoch", True):
            lr.map("warmup_iters", "train.lr_scheduler.warmup_epochs", int)
        else:
            lr.unsupported("warmup_iters", f"{iters} iterations: ours warms up in whole epochs (warmup_by_epoch: true)")
        lr.ignore("warmup", "linear warm-up")
        lr.ignore("warmup_by_epoch", "warm-up in epochs")
        lr.ignore("warmup_ratio", "the warm-up starts near 0")
    else:
        for name in ("warmup", "warmup_iters", "warmup_by_epoch", "warmup_ratio"):
            lr.ignore(name, "no warm-up")
    for name in ("logging", "evaluation", "validate", "custom_hooks", "find_unused_parameters"):
        config.ignore(name, "we validate every epoch and log to status.json and the console")
    config.unsupported("resume_training_checkpoint_path", "resume continues from RESULTS_DIR/checkpoints/latest.pth")
    config.unsupported("load_from", "use model.pretrained")
    train.ignore("num_gpus", "pass --gpus N")
    train.ignore("gpu_ids", "pass --gpu_index")
    train.sub("exp_config").map("manual_seed", "train.seed", int)
    train.map("results_dir", "results_dir")

    evaluation = top.sub("evaluate")
    evaluation.map("checkpoint", "evaluate.checkpoint")
    evaluation.map("topk", "evaluate.top_k", int)
    evaluation.ignore("trt_engine", "TensorRT engines are evaluated by `tao deploy classification evaluate`")
    evaluation.ignore("results_dir", "pass -r")
    inference = top.sub("inference")
    inference.map("checkpoint", "inference.checkpoint")
    inference.ignore("trt_engine", "TensorRT engines run in `tao deploy classification inference`")
    inference.ignore("results_dir", "pass -r")
    export = top.sub("export")
    export.map("opset_version", "export.opset", int)
    for name in ("checkpoint", "onnx_file", "results_dir"):
        export.ignore(name, "pass -m MODEL and -o OUT.onnx to export")
    for name in ("input_channel", "input_width", "input_height", "batch_size", "verify"):
        export.ignore(name, "the ONNX input is the trained size with a dynamic batch; it is always checked "
                            "against PyTorch")
    engine = top.sub("gen_trt_engine")
    engine.map("onnx_file", "gen_trt_engine.onnx_file")
    engine.map("trt_engine", "gen_trt_engine.trt_engine")
    engine.ignore("results_dir", "pass -r")
    for name in ("input_channel", "input_width", "input_height", "batch_size", "verbose", "gpu_id"):
        engine.ignore(name, "the engine's input is the ONNX model's; batches are the tensorrt min/opt/max sizes")
    tensorrt = engine.sub("tensorrt")
    tensorrt.map("data_type", "gen_trt_engine.tensorrt.data_type", lambda v: str(v).lower())
    for name in ("workspace_size", "min_batch_size", "opt_batch_size", "max_batch_size"):
        tensorrt.map(name, f"gen_trt_engine.tensorrt.{name}", int)
    calibration = tensorrt.sub("calibration")
    calibration.map("cal_image_dir", "gen_trt_engine.tensorrt.calibration.cal_image_dir",
                    lambda v: [str(x) for x in (v if isinstance(v, list) else [v])])
    calibration.map("cal_cache_file", "gen_trt_engine.tensorrt.calibration.cal_cache_file")
    calibration.map("cal_batch_size", "gen_trt_engine.tensorrt.calibration.cal_batch_size", int)
    calibration.map("cal_batches", "gen_trt_engine.tensorrt.calibration.cal_batches", int)


def pipeline(mapper, part):
    """TAO 5's train pipeline (MMPretrain transforms) -> our augmentation keys."""
    steps = part.get("pipeline") or []
    for number, step in enumerate(steps if isinstance(steps, list) else []):
        key = f"{part.full('pipeline')}[{number}]"
        kind = str((step or {}).get("type", ""))
        if kind == "RandomResizedCrop":
            if "size" in step:
                size = step["size"]
                mapper.put("dataset.image_size", int(size[0] if isinstance(size, list) else size), f"{key}.size")
            if "scale" in step:
                mapper.put("dataset.augmentation.random_resized_crop_scale", [float(x) for x in step["scale"]],
                           f"{key}.scale")
            mapper.handled(key)
        elif kind == "RandomFlip":
            prob = float(step.get("prob", step.get("flip_prob", 0.5)))
            target = "vertical_flip" if step.get("direction") == "vertical" else "horizontal_flip"
            mapper.put(f"dataset.augmentation.{target}", prob, key)
        elif kind == "ColorJitter":
            for name in ("brightness", "contrast", "saturation", "hue"):
                if name in step:
                    mapper.put(f"dataset.augmentation.{name}", float(step[name]), f"{key}.{name}")
            mapper.handled(key)
        else:
            mapper.unsupported(key, f"transform {kind!r}: ours are RandomResizedCrop, RandomFlip, ColorJitter")

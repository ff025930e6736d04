"""TAO UNet specs (protobuf text): model_config (arch, num_layers, model_input_width/height/channels),
dataset_config (image/mask folders, data_class_config, augmentation_config), training_config."""

from . import common

_LOSSES = {"cross_dice_sum": "cross_entropy_dice", "cross_entropy": "cross_entropy"}


def tf1(mapper):
    top = mapper.view()
    top.map("random_seed", "train.seed", int)
    model = top.sub("model_config")
    if str(model.get("arch", "")).lower().startswith("vanilla_unet"):
        model.map("arch", "model.backbone", lambda v: "vanilla_unet")
        model.ignore("num_layers", "vanilla_unet has its own depth")
    else:
        common.backbone(model)
    model.map("model_input_width", "dataset.image_width", int)
    model.map("model_input_height", "dataset.image_height", int)
    model.map("model_input_channels", "dataset.input_image_type", lambda v: "grayscale" if int(v) == 1 else "color")
    for name in ("use_batch_norm", "all_projections", "load_graph", "freeze_bn", "num_conv_layers", "dropout_rate"):
        model.ignore(name, "our encoders are the registered backbones (or vanilla_unet) as built")
    model.ignore_unless("freeze_blocks", (0, [0]), "freezing blocks is not implemented; "
                                                  "train.freeze_backbone_epochs freezes the whole backbone")
    model.map("enable_qat", "train.enable_qat", bool)
    model.sub("training_precision").ignore("backend_floatx", "mixed precision is train.amp (CUDA only)")

    data = top.sub("dataset_config")
    for split in ("train", "val", "test"):
        data.map(f"{split}_images_path", f"dataset.{split}_images_path")
        data.map(f"{split}_masks_path", f"dataset.{split}_masks_path")
    for split in ("train", "val", "test"):
        sources = [{"image_path": src.get("image_path"), "masks_path": src.get("masks_path")}
                   for group in data.subs(f"{split}_data_sources") for src in group.subs("data_source")]
        if sources:
            mapper.put(f"dataset.{split}_data_sources", sources, data.full(f"{split}_data_sources"))
    data.ignore("dataset", "image and mask folders (TAO's 'custom' layout)")
    data.map("input_image_type", "dataset.input_image_type", lambda v: str(v).lower())
    targets = []
    for target in data.sub("data_class_config").subs("target_classes"):
        targets.append({"name": str(target.get("name", "")), "label_id": int(target.get("label_id", 0)),
                        "mapping_class": str(target.get("mapping_class") or target.get("name", ""))})
        mapper.handled(target.key)
    if targets:
        mapper.put("dataset.data_class_config.target_classes", targets, data.full("data_class_config"))
    augment = data.get("augment", False)
    aug = data.sub("augmentation_config")
    if augment:
        spatial = aug.sub("spatial_augmentation")
        spatial.map("hflip_probability", "dataset.augmentation.horizontal_flip", float)
        spatial.map("vflip_probability", "dataset.augmentation.vertical_flip", float)
        spatial.map("crop_and_resize_prob", "dataset.augmentation.crop_and_resize_prob", float)
        spatial.ignore("crop_and_resize_ratio", "our crops keep crop_scale of the area")
        aug.sub("brightness_augmentation").map("delta", "dataset.augmentation.brightness", float)
        mapper.handled(data.full("augment"))
    else:
        for key in ("horizontal_flip", "vertical_flip", "brightness", "contrast", "saturation"):
            mapper.put(f"dataset.augmentation.{key}", 0.0, data.full("augment"))
        mapper.handled(data.full("augment"))
        if aug.node:
            mapper.ignore(aug.key, "augment is false")
    for name in ("buffer_size", "filter_data", "resize_padding", "resize_method"):
        data.ignore(name, "images are resized bilinearly, masks nearest, to dataset.image_width x image_height")

    train = top.sub("training_config")
    train.map("batch_size", "train.batch_size", int)
    train.map("epochs", "train.num_epochs", int)
    train.map("checkpoint_interval", "train.checkpoint_interval", int)
    if train.has("loss"):
        loss = str(train.get("loss"))
        if loss in _LOSSES:
            train.map("loss", "model.loss", lambda v: _LOSSES[loss])
        else:
            train.unsupported("loss", f"{loss!r}: ours are cross_entropy and cross_dice_sum (cross-entropy + dice)")
    if train.has("learning_rate"):
        train.map("learning_rate", "train.optimizer.lr", float)
        if not train.has("lr_scheduler"):
            mapper.put("train.lr_scheduler.name", "constant", train.full("learning_rate"))
    scheduler = train.sub("lr_scheduler")
    for name in scheduler.names():
        if name == "cosine_decay":
            mapper.put("train.lr_scheduler.name", "cosine", scheduler.full(name))
            scheduler.sub(name).map("alpha", "train.lr_scheduler.min_lr_ratio", float)
            scheduler.sub(name).ignore("decay_steps", "the cosine runs over the whole training")
        else:
            scheduler.unsupported(name, f"schedule {name!r}: ours maps cosine_decay (and a constant rate)")
    common.regularizer(train.sub("regularizer"))
    common.optimizer(train.sub("optimizer"))
    common.visualizer(train)
    for name in ("log_summary_steps", "data_options", "weight", "use_xla", "use_amp",
                 "max_queue_size", "n_workers", "use_multiprocessing"):
        train.ignore(name, common.GPU_ONLY)

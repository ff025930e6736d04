"""The subcommands every task shares — train, evaluate, inference, prune, export (INT8 included), dataset_convert
and generate_sample — written once and driven by the task's adapter (tasks/adapter.py). `evaluate` and
`inference` are the torch-free core's (tao_inference.commands), which the deploy worker runs too.

Every subcommand that writes results records its run in status.json through `tao_inference.status.run_status`
alone: STARTED, RUNNING, SUCCESS or FAILURE, the same for every task."""

import argparse
import contextlib
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from tao_inference import commands, preprocess
from tao_inference.contract import attach_contract, make_contract, sidecar_path
from tao_inference.deploy_configs import write_deepstream_config, write_triton_repository
from tao_inference.errors import UserError
from tao_inference.fileio import exclusive_run, refuse_overwriting_inputs, write_json
from tao_inference.spec import dump_spec, load_spec
from tao_inference.plots import plot_sensitivity
from tao_inference.status import run_status
from ..engine import distributed, qat
from ..engine.checkpoint import model_from_checkpoint, read_checkpoint, save_checkpoint
from ..engine.device import pick_device
from ..engine.distillation import Distillation
from ..engine.predictors import TorchPredictor, model_opener
from ..engine.profile import count_macs, count_params
from ..engine.trainer import fit, make_train_loader
from ..export.int8 import quantize_qdq, tensor_ranges, write_trt_cache
from ..export.onnx_export import INPUT_NAME, export_onnx
from ..engine.logs import write_csv
from ..prune import cut, keep_counts, layer_widths, plan, score_groups
from ..prune.search import search_threshold, sensitivity
from .flags import add_export_parser, add_prune_parser, resolve_prune_flags

console = Console(soft_wrap=True)


def check_unused_keys(adapter, spec):
    """A spec key the network does not use is refused when set, rather than silently ignored."""
    for key, default in adapter.unused_keys.items():
        value = spec
        for part in key.split("."):
            value = getattr(value, part)
        if value != default:
            raise UserError(f"{key}: {value} — {adapter.name} does not use this key; remove it from the spec "
                            f"(or set it to {default})")


def read_task_checkpoint(adapter, path):
    payload = read_checkpoint(path)
    commands.check_task(adapter.name, payload["info"], path)
    return payload


def read_pruned_model(adapter, model_spec, class_names):
    """The checkpoint of `model.pruned_model` (the retrain's start), checked against the dataset's classes. Its
    own network replaces `model.backbone` and `model.pretrained`: say so when the spec names others."""
    payload = read_task_checkpoint(adapter, model_spec.pruned_model)
    info = payload["info"]
    if list(info.class_names) != list(class_names):
        raise UserError(f"model.pruned_model {model_spec.pruned_model} was trained on classes "
                        f"{list(info.class_names)}, the dataset has {list(class_names)}")
    unused = [f"model.backbone ({model_spec.backbone})"] if model_spec.backbone != info.backbone else []
    unused += [f"model.pretrained ({model_spec.pretrained})"] if model_spec.pretrained else []
    if unused:
        console.print(f"note: model.pruned_model {model_spec.pruned_model} is a pruned {info.backbone} with "
                      f"its own weights; {' and '.join(unused)} not used")
    return payload


def initial_model(adapter, spec, class_names):
    """(model, info): a pruned model to retrain, or a new network (pretrained where the spec says)."""
    if spec.model.pruned_model:
        payload = read_pruned_model(adapter, spec.model, class_names)
        return model_from_checkpoint(payload, adapter.rebuild), adapter.retrain_info(payload["info"], spec)
    info = adapter.model_info(spec, class_names)
    return adapter.build(info, spec), info


# ---------------------------------------------------------------- subcommands

def train(adapter, args):
    spec = load_spec(adapter.inference.spec_class, args.experiment_spec, args.overrides)
    check_unused_keys(adapter, spec)
    results_dir = Path(args.results_dir or spec.results_dir)
    # One run per results dir: rank 0 holds its lock (a crashed run's lock is gone with its process).
    with (exclusive_run(results_dir, "training") if distributed.is_main() else contextlib.nullcontext()):
        summary = _train(adapter, spec, results_dir)
    monitor = adapter.monitor
    console.print(f"Done. best val {monitor} {summary['best_' + monitor]:.4f} @ epoch {summary['best_epoch']} "
                  f"→ {summary['best_weights']}")


def _train(adapter, spec, results_dir):
    if distributed.is_main():
        dump_spec(spec, results_dir / "experiment.yaml")
    with run_status(results_dir, "training") as status:
        data = adapter.read_data(spec)
        torch.manual_seed(spec.train.seed)  # a new head's initialization is part of the run's seed
        model, info = initial_model(adapter, spec, data.class_names)
        heads = adapter.trained_heads(model)
        if spec.train.enable_qat:
            model, info = quantization_aware(adapter, spec, model, info)
            heads = [f"network.{name}" for name in heads]  # the traced graph keeps the module paths
        device = pick_device(spec.train.device)
        train_set, collate = adapter.train_dataset(spec, info, data.train)
        train_loader = make_train_loader(train_set, spec.train.batch_size, spec.dataset.num_workers, spec.train.seed,
                                         collate_fn=collate, pin_memory=device.type == "cuda")
        console.print(f"{adapter.name}: {len(data.train)} train / {len(data.val)} val images, {info.num_classes} "
                      f"classes, {info.backbone} at {info.input_width}x{info.input_height} on {device}, "
                      f"{count_params(model) / 1e6:.2f} M params")

        kind = adapter.inference.kind

        def predictor_of(model):
            model.eval()
            return TorchPredictor(model, info, adapter.decoder_params(model, info))

        def validate(model):
            return kind.validation_metrics(predictor_of(model), data.val, spec)

        def preview(model):  # the kinds that draw their predictions: detection and segmentation
            return kind.preview(predictor_of(model), data.val, spec, spec.train.tensorboard_images)

        return fit(model, train_loader=train_loader, validate=validate, loss_fn=adapter.loss(spec, info, model),
                   spec=spec.train, results_dir=results_dir, info=info, monitor=adapter.monitor, status=status,
                   heads=heads, distillation=teacher_of(adapter, spec, info, model),
                   forward_takes_targets=adapter.forward_takes_targets,
                   preview=preview if hasattr(kind, "preview") and spec.train.tensorboard_images else None)


def quantization_aware(adapter, spec, model, info):
    """train.enable_qat: the network with fake quantization of export.int8_target's activation type, and the info
    its checkpoints carry (they are rebuilt with it)."""
    if not adapter.int8_export:
        raise UserError(f"train.enable_qat: INT8 of {adapter.name} is not supported yet; train without QAT (TensorRT "
                        f"builds FP16 from the FP32 export)")
    activations = qat.ACTIVATION_TYPES[spec.export.int8_target]
    info = info.replace(network={**info.network, "qat": {"activations": activations}})
    model = qat.prepare(model, info, activations)
    console.print(f"QAT: fake INT8 quantization in the forward ({activations} activations for "
                  f"export.int8_target={spec.export.int8_target}, int8 per-channel weights); export --data_type int8 "
                  "writes its Q/DQ graph with these scales, no calibration")
    return model, info


def teacher_of(adapter, spec, info, student):
    """train.distillation's teacher, checked against the student: same task and classes, and outputs of the same
    shapes on the student's input (a detector's teacher must see the same input size)."""
    kd = spec.train.distillation
    if not kd.teacher:
        return None
    payload = read_task_checkpoint(adapter, kd.teacher)
    if list(payload["info"].class_names) != list(info.class_names):
        raise UserError(f"train.distillation.teacher {kd.teacher} was trained on classes "
                        f"{list(payload['info'].class_names)}, this run's are {list(info.class_names)}")
    teacher = model_from_checkpoint(payload, adapter.rebuild).eval()
    probe = torch.zeros(2, 3, info.input_height, info.input_width)
    was_training = student.training
    with torch.no_grad():
        shapes = [[tuple(t.shape) for t in _as_tuple(m.eval()(probe))] for m in (student, teacher)]
    student.train(was_training)
    if shapes[0] != shapes[1]:
        t_info = payload["info"]
        raise UserError(f"train.distillation.teacher {kd.teacher}: its outputs {shapes[1]} do not match the student's "
                        f"{shapes[0]} at {info.input_width}x{info.input_height} (the teacher was trained at "
                        f"{t_info.input_width}x{t_info.input_height}); a detector's teacher needs the same input size")
    console.print(f"distillation: learning from {kd.teacher} too (alpha {kd.alpha}, temperature {kd.temperature})")
    return Distillation(teacher, kd.alpha, kd.temperature, adapter.kd_loss(spec, info))


def _as_tuple(outputs):
    return outputs if isinstance(outputs, (tuple, list)) else (outputs,)


def prune(adapter, args):
    """TAO-style pruning of a checkpoint: a pruned checkpoint (retrain it) and `prune_report.json` beside it; with a
    target, the threshold that meets it; with --sensitivity, each group's accuracy cost instead."""
    spec = resolve_prune_flags(args, adapter.inference.spec_class)
    output = Path(args.output)
    refuse_overwriting_inputs([output], [args.model], "-o")
    with run_status(output.parent, "pruning") as status:
        payload = read_task_checkpoint(adapter, args.model)
        if payload["info"].network.get("qat"):
            raise UserError(f"{args.model} was trained with QAT (train.enable_qat); prune the float model it was "
                            "trained from, then retrain the pruned model with train.enable_qat=true")
        model = model_from_checkpoint(payload, adapter.rebuild).eval()
        info = payload["info"]
        hw = (info.input_height, info.input_width)
        example = torch.zeros(1, 3, *hw)
        if spec is None and (args.criterion == "taylor" or args.sensitivity):
            what = ("--criterion taylor scores channels on training images" if args.criterion == "taylor" else
                    "--sensitivity measures validation accuracy")
            raise UserError(f"{what}: pass -e SPEC (the spec the model was trained with)")
        if args.criterion == "taylor":
            accumulate_gradients(adapter, spec, info, model, args.taylor_batches)
        scored = score_groups(model, example, normalizer=args.normalizer, equalization=args.equalization_criterion,
                              excluded_layers=[x.strip() for x in (args.excluded_layers or "").split(",") if x.strip()],
                              heads=adapter.heads(model), criterion=args.criterion)
        model.zero_grad(set_to_none=True)
        if args.sensitivity:
            status.kpi = _sensitivity(adapter, args, spec, info, model, example, scored, output.parent)
            return None
        target = _chosen_threshold(args, model, example, scored, hw)
        before = {"params": count_params(model), "macs": count_macs(model, hw)}
        widths = layer_widths(model)
        plans = plan(scored, threshold=args.pruning_threshold, granularity=args.pruning_granularity,
                     min_filters=args.min_num_filters)
        cut(model, example, scored, keep_counts(plans))
        after = {"params": count_params(model), "macs": count_macs(model, hw)}
        layers = [{"layer": n, "before": widths[n], "after": width} for n, width in layer_widths(model).items()]
        save_checkpoint(output, model, info.replace(pruned=True))
        report = {
            "model": str(args.model), "output": str(output),
            "settings": {"pth": args.pruning_threshold, "normalizer": args.normalizer,
                         "eq": args.equalization_criterion, "pg": args.pruning_granularity,
                         "nf": args.min_num_filters, "el": args.excluded_layers or "", "criterion": args.criterion},
            "target": target,
            "params_before": before["params"], "params_after": after["params"],
            "macs_before": before["macs"], "macs_after": after["macs"], "input_hw": list(hw),
            "layers": layers, "groups": [{k: p[k] for k in ("layers", "before", "after", "at_min_filters")} for p in plans],
        }
        write_json(output.parent / "prune_report.json", report)
        status.kpi = {"params_ratio": after["params"] / before["params"], "macs_ratio": after["macs"] / before["macs"]}
    _print_prune_report(adapter, args, info, report, output.parent / "prune_report.json", spec)
    return report


def accumulate_gradients(adapter, spec, info, model, batches):
    """The training loss's gradients over `batches` augmented training batches, left in the parameters: what
    Taylor importance (|weight x gradient|) reads. Seeded (the batches and their augmentation), so that pruning
    the same model twice cuts the same channels."""
    torch.manual_seed(spec.train.seed)
    data = adapter.read_data(spec)
    dataset, collate = adapter.train_dataset(spec, info, data.train)
    loader = torch.utils.data.DataLoader(dataset, batch_size=spec.train.batch_size, shuffle=True, collate_fn=collate,
                                         generator=torch.Generator().manual_seed(spec.train.seed))
    loss_fn = adapter.loss(spec, info, model)
    model.eval()  # BatchNorm's running statistics, as the network will be used; no dropout
    if adapter.forward_takes_targets:  # its losses come out of training mode only; BatchNorm still keeps its statistics
        model.train()
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()
    model.zero_grad(set_to_none=True)
    for step, (images, targets) in enumerate(loader):
        if step == batches:
            break
        outputs = model(images, targets) if adapter.forward_takes_targets else model(images)
        loss_fn(outputs, targets).backward()


def _chosen_threshold(args, model, example, scored, hw):
    """-pth, or the threshold that meets --target_macs_ratio / --target_speedup (then set as args.pruning_threshold)."""
    if args.target_macs_ratio is None and args.target_speedup is None:
        return None
    kind = "macs" if args.target_macs_ratio is not None else "latency"
    goal = args.target_macs_ratio if kind == "macs" else 1 / args.target_speedup
    found = search_threshold(model, example, scored, goal, kind, granularity=args.pruning_granularity,
                             min_filters=args.min_num_filters, hw=hw, speed_batch_size=args.speed_batch_size)
    wanted = f"--target_macs_ratio {args.target_macs_ratio}" if kind == "macs" else f"--target_speedup {args.target_speedup}"
    if found is None:
        raise UserError(f"{wanted} cannot be met: with every group at the -nf floor ({args.min_num_filters}) the "
                        "model is still above it; lower -nf or -pg, or remove layers from -el")
    args.pruning_threshold, value = found
    if kind == "macs":
        console.print(f"{wanted}: chose -pth {args.pruning_threshold:.4f} → {value:.3f} of the MACs (counted)")
        return {"target_macs_ratio": args.target_macs_ratio, "pth": args.pruning_threshold, "macs_ratio": value}
    console.print(f"{wanted}: chose -pth {args.pruning_threshold:.4f} → {1 / value:.2f}x faster (ONNX Runtime on this "
                  f"CPU, batch {args.speed_batch_size}; timings move by up to ~10-30 % between runs)")
    return {"target_speedup": args.target_speedup, "pth": args.pruning_threshold, "measured_speedup": 1 / value,
            "measured_with": f"onnxruntime CPU, batch {args.speed_batch_size}"}


def _sensitivity(adapter, args, spec, info, model, example, scored, folder):
    """Each group pruned alone: its validation metric, as a table, CSV, JSON and plot (most sensitive first)."""
    samples = adapter.read_data(spec).val
    chosen = [samples[i] for i in np.linspace(0, len(samples) - 1, min(len(samples), args.sensitivity_images))
              .round().astype(int)]
    monitor, kind = adapter.monitor, adapter.inference.kind

    def evaluate(network):
        predictor = TorchPredictor(network, info, adapter.decoder_params(network, info))
        return kind.validation_metrics(predictor, chosen, spec)[monitor]

    baseline = evaluate(model)
    rows = sensitivity(model, example, scored, evaluate, keep_fraction=args.sensitivity_keep,
                       granularity=args.pruning_granularity, min_filters=args.min_num_filters)
    rows.sort(key=lambda row: row["metric"])
    for row in rows:
        row["drop"] = baseline - row["metric"]
    write_json(folder / "sensitivity.json", {"model": str(args.model), "metric": f"val {monitor}",
                                             "images": len(chosen), "keep_fraction": args.sensitivity_keep,
                                             "baseline": baseline, "groups": rows})
    write_csv(folder / "sensitivity.csv", [{"group": r["root"], "channels": r["before"], "kept": r["after"],
                                            monitor: round(r["metric"], 5), "drop": round(r["drop"], 5),
                                            "layers": " ".join(r["layers"])} for r in rows])
    plot_sensitivity(folder / "sensitivity.png", rows, baseline, monitor)
    table = Table(title=f"val {monitor} with one group pruned to {args.sensitivity_keep:.0%} of its channels "
                        f"(unpruned {baseline:.4f}, {len(chosen)} images)")
    for column in ("group", "channels", monitor, "drop"):
        table.add_column(column)
    for row in rows[:15]:
        table.add_row(row["root"], f"{row['before']} → {row['after']}", f"{row['metric']:.4f}", f"{row['drop']:+.4f}")
    console.print(table)
    worst = [row["root"] for row in rows if row["drop"] > 0.01][:4]
    hint = f"; keep the most sensitive whole with -el {','.join(worst)}" if worst else "; no group alone costs over 1 pt"
    console.print(f"sensitivity → {folder}/sensitivity.{{json,csv,png}} (no model written){hint}")
    return {"baseline": baseline, "groups": len(rows), "worst_drop": rows[0]["drop"] if rows else 0.0}


def _print_prune_report(adapter, args, info, report, report_path, spec):
    table = Table(title="pruned layers")
    for column in ("layer", "channels", "kept"):
        table.add_column(column)
    for row in report["layers"]:
        if row["after"] != row["before"]:
            table.add_row(row["layer"], f"{row['before']} → {row['after']}", f"{row['after'] / row['before']:.0%}")
    console.print(table)
    pb, pa, mb, ma = (report[k] for k in ("params_before", "params_after", "macs_before", "macs_after"))
    console.print(f"params {pb / 1e6:.2f} M → {pa / 1e6:.2f} M ({pa / pb - 1:+.0%})   MACs {mb / 1e6:.1f} M → "
                  f"{ma / 1e6:.1f} M ({ma / mb - 1:+.0%})   model → {args.output}   report → {report_path}")
    epochs = f"train.num_epochs={2 * spec.train.num_epochs}" if spec else "train.num_epochs=<twice the training's>"
    console.print(f"next: retrain it — tao {info.task} train -e SPEC -r RESULTS_DIR model.pruned_model={args.output} "
                  f"model.pretrained=null {epochs} — a fresh run at the training's learning rate for twice its epochs, "
                  "not a low-rate fine-tune: a pruned network re-learns (benchmarks/README.md: +3.6 pt over the same "
                  "number of epochs on small data)")
    if "train.distillation.teacher" not in adapter.unused_keys:
        console.print(f"      to learn from the unpruned model too, add train.distillation.teacher={args.model} (on "
                      "small data it gained nothing over the longer retrain there)")
    if args.criterion == "l2" and not args.sensitivity:
        console.print("      --criterion taylor -e SPEC usually keeps more accuracy at the same MACs than TAO's L2 "
                      "(benchmarks/README.md)")
    groups = report["groups"]
    floored = [group["layers"][0] for group in groups if group["at_min_filters"]]
    if floored:
        console.print(f"note: {len(floored)} of {len(groups)} groups were cut to the -nf floor ({args.min_num_filters}): "
                      f"{', '.join(floored[:6])}{' ...' if len(floored) > 6 else ''}. The threshold would have cut them "
                      "further; if the retrained accuracy drops, raise -nf (e.g. -nf 32) to keep more of them, and "
                      "-pth to take the MACs from the wider layers instead.")


def calibration_batches(adapter, spec, info, cal_dir, batches, batch_size):
    """`batches` x `batch_size` preprocessed images, spread evenly over the folder, else over the spec's training
    images (deterministic); in batches of the graph's own size where it is fixed."""
    paths = adapter.inference.kind.calibration_paths(spec, cal_dir)
    wanted = min(len(paths), batches * batch_size)
    chosen = [paths[i] for i in np.linspace(0, len(paths) - 1, wanted).round().astype(int)]
    return [images for _, images, _ in preprocess.batches(chosen, info, adapter.export_batch or batch_size)]


def _onnx_outputs(path, batches):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [session.run(None, {INPUT_NAME: batch}) for batch in batches]


def quantize_checked(adapter, spec, info, fp32, output, batches, num_outputs):
    """Quantize; under `auto`, keep the first conv and the output layers FP32 when INT8 stops agreeing with FP32.
    Returns (agreement, what it measures, whether the ends were kept FP32)."""
    export_spec, kind = spec.export, adapter.inference.kind
    reference = _onnx_outputs(fp32, batches)

    def quantize(fp32_ends):
        quantize_qdq(fp32, output, batches, INPUT_NAME, export_spec.calibration_method, export_spec.int8_target,
                     fp32_ends=fp32_ends, heads=num_outputs, modules=adapter.int8_modules)
        return kind.agreement(spec, info, reference, _onnx_outputs(output, batches))

    fp32_ends = export_spec.int8_fp32_first_last == "always"
    agreement, measure = quantize(fp32_ends)
    if export_spec.int8_fp32_first_last == "auto" and agreement < export_spec.int8_min_agreement:
        layers = "feature layer" if adapter.int8_modules else "layer"
        console.print(f"INT8 with every {layers} quantized: {agreement:.1%} {measure} (< export.int8_min_agreement "
                      f"{export_spec.int8_min_agreement:.0%}): re-quantizing with the first conv and the output layers "
                      "kept FP32")
        fp32_ends = True
        agreement, measure = quantize(True)
    return agreement, measure, fp32_ends


def export(adapter, args):
    if args.data_type == "int8" and not adapter.int8_export:
        raise UserError(f"INT8 export of {adapter.name} is not supported yet; export FP32 (TensorRT builds FP16 from "
                        f"it: `tao deploy {adapter.name} gen_trt_engine --data_type fp16`)")
    spec = load_spec(adapter.inference.spec_class, args.experiment_spec, args.overrides)
    output = Path(args.output)
    written = [output, sidecar_path(output)] + ([output.with_name(output.stem + "_fp32.onnx")] if args.data_type == "int8" else [])
    refuse_overwriting_inputs(written + ([args.cal_cache_file] if args.cal_cache_file else []), [args.model], "-o")
    with run_status(output.parent, "export") as status:
        payload = read_task_checkpoint(adapter, args.model)
        payload = {**payload, "info": adapter.test_time_info(payload["info"], spec)}
        model = model_from_checkpoint(payload, adapter.rebuild).eval()
        info = payload["info"]
        names, outputs, postprocessing = adapter.contract_outputs(info)
        decoder, batch = adapter.decoder_params(model, info), adapter.export_batch

        def contract_of(data_type):
            return make_contract(info, data_type, outputs, decoder, postprocessing, batch=batch)

        options = dict(input_hw=(info.input_height, info.input_width), output_names=names, opset=spec.export.opset,
                       tolerance=spec.export.check_tolerance, batch=batch)
        if info.network.get("qat"):
            contract = contract_of("int8")
            status.kpi = export_qat(adapter, args, spec, model, info, output, contract, options)
        elif args.data_type == "fp32":
            contract = contract_of("fp32")
            diff = export_onnx(model, output, contract, **options)
            console.print(f"ONNX (fp32, opset {spec.export.opset}) → {output}  (max |ORT - PyTorch| = {diff:.1e}); "
                          f"contract → {output}.json")
            status.kpi = {"max_abs_diff": diff}
        else:
            cal_dir = args.cal_image_dir
            batches = calibration_batches(adapter, spec, info, cal_dir, args.batches or spec.export.cal_batches,
                                          args.batch_size or spec.export.cal_batch_size)
            fp32 = output.with_name(output.stem + "_fp32.onnx")
            diff = export_onnx(model, fp32, contract_of("fp32"), **options)
            agreement, measure, fp32_ends = quantize_checked(adapter, spec, info, fp32, output, batches, len(names))
            contract = contract_of("int8")
            attach_contract(output, contract)
            console.print(f"ONNX fp32 → {fp32} (max |ORT - PyTorch| = {diff:.1e}); INT8 Q/DQ → {output} "
                          f"({sum(len(b) for b in batches)} calibration images from {cal_dir or 'the training split'}); INT8: {agreement:.1%} "
                          f"{measure}{' (first conv and output layers kept FP32)' if fp32_ends else ''}")
            if args.cal_cache_file:
                amax = tensor_ranges(fp32, batches, INPUT_NAME, spec.export.calibration_method)
                write_trt_cache(args.cal_cache_file, amax)
                console.print(f"TensorRT calibration cache ({len(amax)} tensors) → {args.cal_cache_file}")
            status.kpi = {"int8_agreement": agreement, "fp32_first_last": fp32_ends}
        deployment_files(args, spec, output, info, contract)


def export_qat(adapter, args, spec, model, info, output, contract, options):
    """A QAT checkpoint's Q/DQ ONNX: its learned scales, no calibration; its agreement with the PyTorch QAT model
    is measured on `export.cal_batches` of the training images (or --cal_image_dir)."""
    activations = info.network["qat"]["activations"]
    if args.data_type != "int8":
        raise UserError(f"{args.model} was trained with QAT: export it with --data_type int8 (its Q/DQ graph, no "
                        "calibration); for an FP32 model, export the checkpoint it was retrained from")
    if qat.ACTIVATION_TYPES[spec.export.int8_target] != activations:
        raise UserError(f"export.int8_target={spec.export.int8_target} wants "
                        f"{qat.ACTIVATION_TYPES[spec.export.int8_target]} activations, but {args.model} learned "
                        f"{activations} ones (export.int8_target when it was trained): set it back, or retrain")
    if args.cal_cache_file:
        raise UserError("--cal_cache_file: a QAT model needs no calibration cache; TensorRT builds INT8 from its Q/DQ "
                        "ONNX (`tao deploy ... gen_trt_engine --data_type int8`)")
    network = qat.export_network(model)
    diff = export_onnx(network, output, contract, **{**options, "tolerance": None})
    batches = calibration_batches(adapter, spec, info, args.cal_image_dir,
                                  args.batches or spec.export.cal_batches, args.batch_size or spec.export.cal_batch_size)
    with torch.no_grad():
        reference = [[t.numpy() for t in _as_tuple(network(torch.from_numpy(b)))] for b in batches]
    agreement, measure = adapter.inference.kind.agreement(spec, info, reference, _onnx_outputs(output, batches),
                                                          reference="the PyTorch QAT model")
    console.print(f"QAT INT8 Q/DQ → {output} (the trained scales, no calibration; max |ORT - PyTorch QAT| = "
                  f"{diff:.1e}): {agreement:.1%} {measure} ({sum(len(b) for b in batches)} images from "
                  f"{args.cal_image_dir or 'the training split'})")
    return {"qat": True, "int8_agreement": agreement}


def deployment_files(args, spec, output, info, contract):
    """--gen_ds_config (DeepStream's nvinfer config + labels beside the model), --gen_triton_repo DIR."""
    if args.gen_ds_config:
        cal = Path(args.cal_cache_file).name if args.cal_cache_file else None
        path = write_deepstream_config(output.parent, info, contract, output.name, spec, contract["data_type"], cal)
        console.print(f"DeepStream config → {path}, labels → {output.parent / 'labels.txt'}")
    if args.gen_triton_repo:
        folder = write_triton_repository(args.gen_triton_repo, output, info, contract)
        console.print(f"Triton model repository → {folder} (config.pbtxt, 1/model.onnx)")


# ---------------------------------------------------------------- command line

def build_parser(adapter, prog=None):
    """The command line of one task: every subcommand, run with the task's adapter."""
    parser = argparse.ArgumentParser(prog=prog or f"tao {adapter.name}", description=adapter.inference.description)
    sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

    def bind(function):
        return lambda args: function(adapter, args)

    if adapter.dataset_convert is not None:
        p = sub.add_parser("dataset_convert", help="validate data, report box statistics, write the training index")
        p.add_argument("-d", "--dataset_spec", required=True, help="spec YAML whose dataset section lists the sources")
        p.add_argument("-o", "--output_dir", required=True)
        p.add_argument("overrides", nargs="*", help="spec overrides: section.key=value")
        p.set_defaults(run=adapter.dataset_convert)
    p = sub.add_parser("train", help="train or fine-tune from a spec")
    commands.add_spec_arguments(p)
    distributed.add_arguments(p)
    p.set_defaults(run=bind(train))
    kinds = ".pth checkpoint or .onnx (FP32 or INT8) model"
    commands.add_subcommands(sub, adapter.inference, model_opener(adapter), kinds)
    add_prune_parser(sub, bind(prune))
    add_export_parser(sub, bind(export))
    commands.add_benchmark(sub, adapter.inference, model_opener(adapter), kinds)
    commands.add_report(sub)
    p = sub.add_parser("generate_sample", help="write a small SYNTHETIC dataset for demos and tests")
    adapter.add_generate_arguments(p)
    p.set_defaults(run=adapter.generate)
    adapter.add_extra_subcommands(sub)
    return parser

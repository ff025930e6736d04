"""Subcommands that every task shares — `prune` and the `export` flags — written once. A task passes what is
specific to it (how to rebuild its model, its input size, its output heads)."""

import argparse
import dataclasses
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from ..download import fetch_state_dict
from ..engine.checkpoint import model_from_checkpoint, read_checkpoint, save_checkpoint
from ..engine.profile import count_macs, count_params
from ..errors import UserError
from ..fileio import write_json
from ..models import get_backbone
from ..prune import prune_model
from ..spec import describe_bounds, load_spec
from ..spec.schemas import ExportSpec, PruneSpec

console = Console(soft_wrap=True)


def load_pretrained(model, model_spec):
    """Copy every pretrained tensor whose name and shape match (`model.pretrained`: imagenet, a path or a URL);
    the rest — a new head — starts fresh: transfer learning."""
    source = model_spec.pretrained
    if source == "imagenet":
        loader = get_backbone(model_spec.backbone).imagenet_weights
        if loader is None:
            raise UserError(f"model.pretrained: imagenet — backbone '{model_spec.backbone}' has no ImageNet weights "
                            "here; give a checkpoint path or URL, or null")
        state = loader()
    else:
        state = fetch_state_dict(source, sha256=model_spec.pretrained_sha256)
    own = model.state_dict()
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise UserError(f"model.pretrained: no tensor of {source} fits backbone '{model_spec.backbone}' "
                        "(is it a checkpoint of the same backbone?)")
    model.load_state_dict(matched, strict=False)
    skipped = sorted(set(own) - set(matched))
    console.print(f"pretrained: loaded {len(matched)}/{len(own)} tensors from {source}"
                  + (f"; fresh: {', '.join(skipped[:4])}{' ...' if len(skipped) > 4 else ''}" if skipped else ""))


def read_pruned_model(model_spec, class_names):
    """The checkpoint of `model.pruned_model` (the retrain's start), checked against the dataset's classes. Its
    own network replaces `model.backbone` and `model.pretrained`: say so when the spec names others."""
    payload = read_checkpoint(model_spec.pruned_model)
    meta = payload["meta"]
    if meta.get("class_names") != list(class_names):
        raise UserError(f"model.pruned_model {model_spec.pruned_model} was trained on classes "
                        f"{meta.get('class_names')}, the dataset has {list(class_names)}")
    unused = [f"model.backbone ({model_spec.backbone})"] if model_spec.backbone != meta.get("backbone") else []
    unused += [f"model.pretrained ({model_spec.pretrained})"] if model_spec.pretrained else []
    if unused:
        console.print(f"note: model.pruned_model {model_spec.pruned_model} is a pruned {meta.get('backbone')} with "
                      f"its own weights; {' and '.join(unused)} not used")
    return payload


# prune flag -> its key in the spec's `prune` section
PRUNE_FLAGS = {"pruning_threshold": "threshold", "normalizer": "normalizer",
               "equalization_criterion": "equalization_criterion", "pruning_granularity": "granularity",
               "min_num_filters": "min_num_filters", "excluded_layers": "excluded_layers"}


def resolve_prune_flags(args, schema):
    """Fill each prune flag not given on the command line from the spec's `prune` section (-e), else its default,
    so that a spec's `prune.threshold: 0.5` is not silently ignored."""
    section = load_spec(schema, args.experiment_spec).prune if args.experiment_spec else PruneSpec()
    for flag, key in PRUNE_FLAGS.items():
        if getattr(args, flag) is None:
            value = getattr(section, key)
            setattr(args, flag, ",".join(value) if key == "excluded_layers" else value)


def prune_command(args, rebuild, input_hw, schema, heads=None):
    """TAO-style pruning of a checkpoint: a pruned checkpoint (retrain it) and `prune_report.json` beside it.
    `input_hw(meta) -> (h, w)`; `schema`: the task's spec class (its `prune` section fills flags not given);
    `heads(model) -> [modules]` whose outputs are the task's (never pruned)."""
    resolve_prune_flags(args, schema)
    payload = read_checkpoint(args.model)
    model = model_from_checkpoint(payload, rebuild).eval()
    meta = payload["meta"]
    height, width = input_hw(meta)
    example = torch.zeros(1, 3, height, width)
    before = {"params": count_params(model), "macs": count_macs(model, (height, width))}
    widths = {n: m.out_channels if isinstance(m, torch.nn.Conv2d) else m.out_features
              for n, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))}
    groups = prune_model(model, example, threshold=args.pruning_threshold, normalizer=args.normalizer,
                         equalization=args.equalization_criterion, granularity=args.pruning_granularity,
                         min_filters=args.min_num_filters,
                         excluded_layers=[x for x in (args.excluded_layers or "").split(",") if x],
                         heads=heads(model) if heads else None)
    after = {"params": count_params(model), "macs": count_macs(model, (height, width))}
    layers = [{"layer": n, "before": widths[n],
               "after": m.out_channels if isinstance(m, torch.nn.Conv2d) else m.out_features}
              for n, m in model.named_modules() if n in widths]
    save_checkpoint(args.output, model, {**meta, "pruned": True})
    report = {
        "model": str(args.model), "output": str(args.output),
        "settings": {"pth": args.pruning_threshold, "normalizer": args.normalizer, "eq": args.equalization_criterion,
                     "pg": args.pruning_granularity, "nf": args.min_num_filters, "el": args.excluded_layers or ""},
        "params_before": before["params"], "params_after": after["params"],
        "macs_before": before["macs"], "macs_after": after["macs"], "input_hw": [height, width],
        "layers": layers, "groups": groups,
    }
    report_path = Path(args.output).parent / "prune_report.json"
    write_json(report_path, report)
    table = Table(title="pruned layers")
    for column in ("layer", "channels", "kept"):
        table.add_column(column)
    for row in layers:
        if row["after"] != row["before"]:
            table.add_row(row["layer"], f"{row['before']} → {row['after']}", f"{row['after'] / row['before']:.0%}")
    console.print(table)
    console.print(f"params {before['params'] / 1e6:.2f} M → {after['params'] / 1e6:.2f} M "
                  f"({after['params'] / before['params'] - 1:+.0%})   MACs {before['macs'] / 1e6:.1f} M → "
                  f"{after['macs'] / 1e6:.1f} M ({after['macs'] / before['macs'] - 1:+.0%})   "
                  f"model → {args.output}   report → {report_path}")
    console.print(f"next: retrain it — tao {meta.get('task', 'classification')} train -e SPEC -r RESULTS_DIR "
                  f"model.pruned_model={args.output} model.pretrained=null — as a fresh run at the training's "
                  "learning rate, not a low-rate fine-tune: a pruned network re-learns (benchmarks/README.md)")
    floored = [group["layers"][0] for group in groups if group["at_min_filters"]]
    if floored:
        console.print(f"note: {len(floored)} of {len(groups)} groups were cut to the -nf floor ({args.min_num_filters}): "
                      f"{', '.join(floored[:6])}{' ...' if len(floored) > 6 else ''}. The threshold would have cut them "
                      "further; if the retrained accuracy drops, raise -nf (e.g. -nf 32) to keep more of them, and "
                      "-pth to take the MACs from the wider layers instead.")
    return report


def add_spec_arguments(parser, spec_required=True):
    """-e/-r/-k and `key=value` overrides: the flags of every spec-driven subcommand."""
    parser.add_argument("-e", "--experiment_spec", required=spec_required, help="spec YAML file")
    parser.add_argument("-r", "--results_dir", help="output folder (default: the spec's results_dir)")
    parser.add_argument("-k", "--key", help="accepted for TAO compatibility; models are not encrypted")
    parser.add_argument("overrides", nargs="*", help="spec overrides: section.key=value")


def _spec_field(schema, name):
    return next(f for f in dataclasses.fields(schema) if f.name == name)


def spec_value_type(schema, name):
    """An argparse `type` for a flag that sets the spec field `schema.name`: that field's type and bounds, so a
    flag is checked as the spec key is (`-pg 0` is refused, not a division by zero)."""
    field = _spec_field(schema, name)
    kind, low, high = type(field.default), field.metadata["min"], field.metadata["max"]

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text} is out of range; expected a value {describe_bounds(low, high)}")
        return value

    return parse


def add_prune_parser(subparsers, run):
    """TAO's prune flags. Each one not given comes from the spec's `prune` section (-e), else its default."""
    p = subparsers.add_parser("prune", help="TAO-style threshold pruning of a trained model")
    p.add_argument("-m", "--model", required=True, help=".pth checkpoint to prune")
    p.add_argument("-o", "--output", required=True, help="pruned model file (.pth)")
    p.add_argument("-e", "--experiment_spec", help="spec whose `prune` section gives the flags not given here")
    p.add_argument("-k", "--key", help="accepted for TAO compatibility")
    defaults = PruneSpec()
    p.add_argument("-pth", "--pruning_threshold", type=spec_value_type(PruneSpec, "threshold"),
                   help=f"default {defaults.threshold}")
    p.add_argument("-n", "--normalizer", choices=_spec_field(PruneSpec, "normalizer").metadata["choices"],
                   help=f"default {defaults.normalizer}")
    p.add_argument("-eq", "--equalization_criterion",
                   choices=_spec_field(PruneSpec, "equalization_criterion").metadata["choices"],
                   help=f"default {defaults.equalization_criterion}")
    p.add_argument("-pg", "--pruning_granularity", type=spec_value_type(PruneSpec, "granularity"),
                   help=f"default {defaults.granularity}")
    p.add_argument("-nf", "--min_num_filters", type=spec_value_type(PruneSpec, "min_num_filters"),
                   help=f"default {defaults.min_num_filters}")
    p.add_argument("-el", "--excluded_layers", help="comma-separated layer names never pruned")
    p.set_defaults(run=run)


def add_export_parser(subparsers, run):
    p = subparsers.add_parser("export", help="ONNX export; INT8 Q/DQ ONNX and TensorRT calibration cache")
    p.add_argument("-m", "--model", required=True, help=".pth checkpoint to export")
    p.add_argument("-o", "--output", required=True, help="output .onnx file")
    p.add_argument("-e", "--experiment_spec", help="spec (export section, dataset for default calibration images)")
    p.add_argument("-k", "--key", help="accepted for TAO compatibility")
    p.add_argument("--data_type", choices=("fp32", "int8"), default="fp32")
    p.add_argument("--cal_image_dir", help="calibration images (int8)")
    p.add_argument("--cal_cache_file", help="also write a TensorRT calibration cache here (int8)")
    p.add_argument("--batches", type=spec_value_type(ExportSpec, "cal_batches"),
                   help="calibration batches (default: export.cal_batches)")
    p.add_argument("--batch_size", type=spec_value_type(ExportSpec, "cal_batch_size"),
                   help="calibration batch size (default: export.cal_batch_size)")
    p.add_argument("overrides", nargs="*", help="spec overrides: section.key=value")
    p.set_defaults(run=run)

"""`tao spec show -e SPEC [--task T]` and `tao spec convert -i TAO_SPEC -o OURS.yaml [--task T]`: what a spec
means here, without starting any work. TAO's own files show the mapping of each of their keys."""

import argparse
import dataclasses
from pathlib import Path

import yaml
from rich.console import Console

from tao_inference.errors import UserError
from tao_inference.fileio import read_text, write_text
from tao_inference.spec import load_spec, tao
from tao_inference.spec.loader import REPORTED_TAO_SPECS, all_keys, parsed_overrides
from tao_inference.tasks import TASKS

console = Console(soft_wrap=True)
SPEC_TASKS = tuple(TASKS)  # every task with a spec schema


def _translation(path, task, overrides):
    """The TAO mapping of `path` (None for our own YAML) and the task it is for."""
    text = read_text(Path(path), "-e")
    if tao.dialect(text, str(path)) == "ours":
        if task is None:
            raise UserError(f"{path}: our YAML does not say which task it is for: pass --task "
                            f"({' | '.join(SPEC_TASKS)})")
        return None, task
    task = task or tao.translate(text, str(path), None).network  # the file says which network it is for
    translation = tao.translate(text, str(path), task, parsed_overrides(overrides),
                                our_keys=set(all_keys(TASKS[task].spec_class)))
    return translation, task


def _print_mapping(translation):
    """Plain lines (they are read, grepped and pasted into issues more than looked at): mapped, ignored, refused."""
    mapped, ignored, unsupported = tao.mapping_rows(translation)
    print(f"{translation.source}: TAO {translation.network} spec ({translation.dialect})")
    print(f"mapped ({len(mapped)}): our key <- TAO key")
    width = max((len(ours) for ours, _, _ in mapped), default=0)
    for ours, theirs, where in mapped:
        print(f"  {ours:<{width}} <- {theirs}  ({where})")
    for title, rows in (("ignored, no effect here", ignored), ("not supported", unsupported)):
        if rows:
            print(f"{title} ({len(rows)}):")
            for key, where, why in rows:
                print(f"  {key}  ({where}): {why}")
    for note in translation.notes:
        print(f"note: {note}")


def show(args):
    translation, task = _translation(args.experiment_spec, args.task, args.overrides)
    if translation is not None:
        _print_mapping(translation)
        REPORTED_TAO_SPECS.add(translation.source)  # shown in full above: no summary line again
    spec = load_spec(TASKS[task].spec_class, args.experiment_spec, args.overrides)
    console.print(f"# the resolved {task} spec (every default filled in)", highlight=False)
    print(yaml.safe_dump(dataclasses.asdict(spec), sort_keys=False), end="")


def convert(args):
    translation, task = _translation(args.input, args.task, args.overrides)
    if translation is None:
        raise UserError(f"{args.input}: already our YAML; `tao spec show -e {args.input} --task {task}` shows it")
    load_spec(TASKS[task].spec_class, args.input, args.overrides)  # refuses what cannot run, as `train` would
    for key, value in parsed_overrides(args.overrides):  # our keys given on the command line go into the file too
        if key not in translation.our_overrides:
            continue
        node = translation.data
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    write_text(args.output, converted_yaml(translation))
    console.print(f"{len(translation.origin)} settings → {args.output} (tao {task} train -e {args.output}); "
                  f"{len(translation.ignored)} TAO keys ignored, {len(translation.unsupported)} not supported "
                  "(listed at its top)")


def converted_yaml(translation):
    """Our YAML of the mapped settings, each line saying which TAO key it came from; the keys that did not
    carry over, with why, at the top."""
    out = [f"# Converted from the TAO {translation.network} spec {translation.source} ({translation.dialect}).",
           f"# Run it: tao {translation.network} train -e THIS_FILE. Keys not written take our defaults "
           f"(tao spec show -e THIS_FILE --task {translation.network})."]
    for title, rows in (("ignored (no effect here)", translation.ignored), ("not supported", translation.unsupported)):
        if rows:
            out.append(f"# TAO keys {title}:")
            out += [f"#   {key} ({translation.where(key)}): {why}" for key, why in rows]
    out += [f"# note: {note}" for note in translation.notes]
    _emit(translation.data, "", 0, translation, out)
    return "\n".join(out) + "\n"


def _emit(node, prefix, depth, translation, out):
    for name, value in node.items():
        key = f"{prefix}{name}"
        indent = "  " * depth
        origin = translation.origin.get(key)
        comment = f"  # TAO: {origin} ({translation.where(origin)})" if origin else ""
        if isinstance(value, dict) and not (origin and key.endswith(("per_class", "target_class_mapping"))):
            out.append(f"{indent}{name}:{comment}")
            _emit(value, key + ".", depth + 1, translation, out)
        else:
            text = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False).split("\n...")[0].strip()
            out.append(f"{indent}{name}: {text}{comment}")


def build_parser(prog="tao spec"):
    parser = argparse.ArgumentParser(prog=prog, description="Read a spec (ours or TAO's) and show or convert it.")
    sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    p = sub.add_parser("show", help="print the resolved spec (and a TAO spec's mapping); exit 2 if it is invalid")
    p.add_argument("-e", "--experiment_spec", required=True, help="our YAML, or a TAO spec (protobuf text / TAO 5 YAML)")
    p.add_argument("--task", choices=SPEC_TASKS, help="the task (needed for our YAML; TAO specs say it)")
    p.add_argument("overrides", nargs="*", help="key=value, in our keys or TAO's dotted keys")
    p.set_defaults(run=show)
    p = sub.add_parser("convert", help="write a TAO spec as our YAML, each key commented with its TAO key")
    p.add_argument("-i", "--input", required=True, help="the TAO spec")
    p.add_argument("-o", "--output", required=True, help="our YAML to write")
    p.add_argument("--task", choices=SPEC_TASKS, help="the network, when the file does not say it")
    p.add_argument("overrides", nargs="*", help="key=value, in our keys or TAO's dotted keys")
    p.set_defaults(run=convert)
    return parser

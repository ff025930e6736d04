"""TAO's own spec files, read wherever `-e` takes a spec: protobuf text (TAO 3-5 TF1 networks) and TAO 5 YAML
(Hydra/OmegaConf style). The dialect and the network are told from the content; a per-network mapping turns the
TAO keys into ours, reporting what it ignored and why, and refusing what it cannot honour.

    translation = translate(text, source, task, overrides)   # -> mapper.Translation
"""

import re

import yaml

from ...errors import UserError
from . import classification, detectnet_v2, faster_rcnn, retinanet, ssd, unet, yolo_v4
from .mapper import Mapper, Translation
from .prototext import looks_like_prototext, parse_prototext

# network -> (mapping function per dialect)
MAPPINGS = {
    ("classification", "protobuf text"): classification.tf1,
    ("classification", "TAO 5 YAML"): classification.pyt,
    ("detectnet_v2", "protobuf text"): detectnet_v2.tf1,
    ("retinanet", "protobuf text"): retinanet.tf1,
    ("unet", "protobuf text"): unet.tf1,
    ("ssd", "protobuf text"): ssd.tf1,
    ("faster_rcnn", "protobuf text"): faster_rcnn.tf1,
    ("yolo_v4", "protobuf text"): yolo_v4.tf1,
    ("yolo_v4_tiny", "protobuf text"): yolo_v4.tf1_tiny,
}
# TAO networks whose files are read but that have no network here yet (their issues add the mapping).
NOT_IMPLEMENTED = ("dssd", "yolo_v3")
# Networks we train whose TAO spec files are not read (yet), and why
UNREAD = {"mask_rcnn": "TAO's mask_rcnn trains from TFRecords (data_config.training_file_pattern), which name no COCO "
                       "file to read instead; write our spec with the COCO sources (specs/mask_rcnn/sample.yaml, "
                       "`tao spec show -e it` lists every key)"}
# Top-level messages that say which TF1 network a file is for (checked in this order).
_TF1_SIGNATURES = [
    ("retinanet_config", "retinanet"), ("ssd_config", "ssd"), ("dssd_config", "dssd"),
    ("yolov4_config", "yolo_v4"), ("yolov4_tiny_config", "yolo_v4_tiny"), ("yolov3_config", "yolo_v3"),
    ("maskrcnn_config", "mask_rcnn"), ("cost_function_config", "detectnet_v2"),
    ("bbox_rasterizer_config", "detectnet_v2"), ("postprocessing_config", "detectnet_v2"),
    ("train_config", "classification"), ("eval_config", "classification"), ("inference_config", "faster_rcnn"),
]
TF1_TOP_LEVEL = {name for name, _ in _TF1_SIGNATURES} | {
    "random_seed", "dataset_config", "augmentation_config", "model_config", "training_config", "evaluation_config",
    "nms_config", "kitti_config", "coco_config", "enc_key", "verbose", "data_config", "image_directory_path"}
DETECTION_TASKS = ("detectnet_v2", "retinanet", "yolo_v4", "yolo_v4_tiny", "ssd", "faster_rcnn")  # specs we map
TAO5_MARKERS = ("encryption_key",)  # gen_trt_engine is one of our sections too


def dialect(text, source):
    """'ours' | 'protobuf text' | 'TAO 5 YAML', from the content (never the file's extension)."""
    if looks_like_prototext(text):
        return "protobuf text"
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        loaded = None
        try:  # protobuf text that happens to be flat (`key: value` lines YAML cannot read)
            parse_prototext(text, source)
            return "protobuf text"
        except UserError:
            return "ours"  # our YAML reader reports the YAML error
    if not isinstance(loaded, dict):
        return "ours"
    if set(loaded) & TF1_TOP_LEVEL and not set(loaded) - TF1_TOP_LEVEL:
        return "protobuf text"
    if set(loaded) & set(TAO5_MARKERS) or _looks_like_classification_pyt(loaded) or _has_tao5_syntax(text):
        return "TAO 5 YAML"
    return "ours"


def _looks_like_classification_pyt(data):
    model, dataset, train = (data.get(k) if isinstance(data.get(k), dict) else {} for k in ("model", "dataset", "train"))
    return isinstance(model.get("backbone"), dict) or "head" in model or "data" in dataset or "train_config" in train


def _has_tao5_syntax(text):
    return re.search(r":\s*['\"]?\?\?\?['\"]?\s*(#.*)?$|\$\{", text, re.MULTILINE) is not None


def network_of(tree, dialect_name):
    if dialect_name == "TAO 5 YAML":
        return "classification" if _looks_like_classification_pyt(tree) else None
    model = tree.get("model_config") if isinstance(tree.get("model_config"), dict) else {}
    data = tree.get("dataset_config") if isinstance(tree.get("dataset_config"), dict) else {}
    if "model_input_width" in model or "train_images_path" in data:
        return "unet"
    if "roi_mini_batch" in model or "anchor_box_config" in model:
        return "faster_rcnn"
    for key, network in _TF1_SIGNATURES:
        if key in tree:
            return network
    if "kitti_config" in tree or "coco_config" in tree:
        return "dataset_convert"  # TAO's detection dataset_convert spec: any detector reads it
    return None


def read_tree(text, source, dialect_name):
    """(tree, lines) of a TAO file; TAO 5 YAML has its ${...} interpolations resolved."""
    if dialect_name == "protobuf text":
        return parse_prototext(text, source)
    from ..loader import _line_index  # the same line index our own YAML gets

    try:
        tree = yaml.safe_load(text) or {}
        lines, _ = _line_index(yaml.compose(text), source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise UserError(f"{source}:{mark.line + 1 if mark else '?'}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return tree, lines


def resolve_interpolations(tree, lines, source):
    """`${a.b}` resolved by OmegaConf, as TAO's Hydra does, one value at a time: like Hydra, a value that refers to
    a `???` is only missing (reported where it matters), while a reference to nothing is an error."""
    from omegaconf import OmegaConf
    from omegaconf.errors import InterpolationToMissingValueError, OmegaConfBaseException

    if "${" not in yaml.safe_dump(tree):
        return tree
    config = OmegaConf.create(tree)

    def resolve(node, key):
        if isinstance(node, dict):
            return {name: resolve(value, f"{key}.{name}" if key else str(name)) for name, value in node.items()}
        if isinstance(node, list):
            return [resolve(value, f"{key}[{number}]") for number, value in enumerate(node)]
        if not (isinstance(node, str) and "${" in node):
            return node
        try:
            return OmegaConf.select(config, key, throw_on_missing=True)
        except InterpolationToMissingValueError:
            return "???"
        except OmegaConfBaseException as exc:
            first = str(exc).splitlines()[0]
            raise UserError(f"{source}:{lines.get(key, '?')}: '{key}': {first} — fix the ${{...}} reference or give "
                            "the value it names") from None

    try:
        return resolve(tree, "")
    except OmegaConfBaseException as exc:  # the document itself (e.g. a key OmegaConf cannot hold)
        raise UserError(f"{source}: cannot be read as a TAO 5 spec: {str(exc).splitlines()[0]}") from None


def required_markers(node, prefix=""):
    """The keys whose value is TAO's `???` (required, no default)."""
    if isinstance(node, dict):
        for name, value in node.items():
            yield from required_markers(value, f"{prefix}.{name}" if prefix else str(name))
    elif isinstance(node, list):
        for number, value in enumerate(node):
            yield from required_markers(value, f"{prefix}[{number}]")
    elif node == "???":
        yield prefix


def apply_override(tree, key, value):
    node = tree
    parts = key.split(".")
    for part in parts[:-1]:
        match = re.fullmatch(r"(\w+)\[(\d+)\]", part)
        if match:
            items = node.get(match[1])
            items = items if isinstance(items, list) else [items]
            if int(match[2]) >= len(items):
                raise UserError(f"command line: override '{key}': {match[1]} has {len(items)} entries")
            node = items[int(match[2])]
        else:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
    node[parts[-1]] = value


# TAO 5 sections every subcommand reads: a `???` left there stops the run; elsewhere it is left unset.
_CORE_SECTIONS = ("results_dir", "dataset", "model", "train")


def _exists(tree, key):
    node = tree
    for part in key.split("."):
        match = re.fullmatch(r"(\w+)\[(\d+)\]", part)
        name = match[1] if match else part
        if not isinstance(node, dict) or name not in node:
            return False
        node = node[name]
        if match:
            if not isinstance(node, list) or int(match[2]) >= len(node):
                return False
            node = node[int(match[2])]
    return True


def translate(text, source, task, overrides=(), our_keys=()):
    """Our spec data from a TAO file for `task`. `overrides` ((dotted key, value) pairs): a key the TAO file has, or
    that is not one of `our_keys`, is set in the TAO document first (so `${...}` references see it); the others are
    left in `translation.our_overrides` for our spec (their keys)."""
    dialect_name = dialect(text, source)
    tree, lines = read_tree(text, source, dialect_name)
    if not isinstance(tree, dict):
        raise UserError(f"{source}: a TAO spec is a set of sections; this file has none")
    translation = Translation(network="", dialect=dialect_name, source=source, lines=lines)
    for key, value in overrides:
        if _exists(tree, key) or key not in our_keys:
            apply_override(tree, key, value)
            translation.command_line.add(key)
        else:
            translation.our_overrides.append(key)
    if dialect_name == "TAO 5 YAML":
        tree = resolve_interpolations(tree, lines, source)
        for key in list(required_markers(tree)):
            if key.split(".")[0].split("[")[0] in _CORE_SECTIONS:
                raise UserError(f"{translation.where(key)}: '{key}' is required by this TAO spec (???): give it a "
                                f"value in the file or on the command line ({key}=VALUE)")
            translation.notes.append(f"{key}: left unset (??? in the TAO spec)")
    network = network_of(tree, dialect_name)
    if network in UNREAD:
        raise UserError(f"{source}: this is a TAO {network} spec; reading TAO {network} spec files is not "
                        f"implemented: {UNREAD[network]}")
    if network in NOT_IMPLEMENTED:
        raise UserError(f"{source}: this is a TAO {network} spec; network {network} is not implemented yet "
                        f"(implemented: {', '.join(sorted({n for n, _ in MAPPINGS}))})")
    if network == "dataset_convert":
        if task not in DETECTION_TASKS:
            raise UserError(f"{source}: a TAO detection dataset_convert spec (kitti_config): name the detector that "
                            f"reads it ({' or '.join(DETECTION_TASKS)}; `tao spec ... --task NETWORK`)")
        network = task
    if network is None:
        raise UserError(f"{source}: a TAO {dialect_name} spec, but not one of a network we know (its sections: "
                        f"{', '.join(list(tree)[:8])}); implemented: {', '.join(sorted({n for n, _ in MAPPINGS}))}")
    if task is not None and network != task:
        raise UserError(f"{source}: this is a TAO {network} spec; run it with `tao {network} ...` (not `tao {task}`)")
    if (network, dialect_name) not in MAPPINGS:
        raise UserError(f"{source}: TAO {network} specs in {dialect_name} are not read yet")
    translation.network = network
    mapper = Mapper(translation, tree)
    MAPPINGS[(network, dialect_name)](mapper)
    return mapper.finish()


def summary(translation):
    """What a run says when it reads a TAO spec: counts, the notes, and where the whole mapping is shown."""
    t = translation
    text = (f"{t.source}: TAO {t.network} spec ({t.dialect}): {len(t.origin)} settings mapped to ours, "
            f"{len(t.ignored)} TAO keys ignored")
    if t.unsupported:
        text += f", {len(t.unsupported)} not supported (run anyway: --allow_unmapped)"
    lines = [text + f" — `tao spec show -e {t.source}` shows each"]
    lines += [f"  note: {note}" for note in t.notes]
    return "\n".join(lines)


def mapping_rows(translation):
    """(our key, TAO key, where) for every mapped setting; (TAO key, where, why) for ignored and unsupported."""
    t = translation
    mapped = [(ours, tao, t.where(tao)) for ours, tao in t.origin.items()]
    ignored = [(tao, t.where(tao), why) for tao, why in t.ignored]
    unsupported = [(tao, t.where(tao), why) for tao, why in t.unsupported]
    return mapped, ignored, unsupported

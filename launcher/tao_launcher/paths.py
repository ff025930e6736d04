"""Host paths → container paths, through the mounts of `~/.tao_mounts.json`.

A task's path flags, path-valued keys (in `key=value` overrides and inside its `-e` spec file, existing yet or
not) and other path-like values are rewritten to where the container sees them; a relative path resolves against
the working directory, so with the working directory outside every mount it is refused too. A path under no mount is refused before any container starts, naming the mount
to add: a container silently writing into its own throw-away filesystem is how results get lost.
"""

import os
from pathlib import Path, PurePosixPath

from .errors import LauncherError

# TAO's path-valued flags (every task uses the same spellings).
PATH_FLAGS = {"-e", "--experiment_spec", "--experiment_spec_file", "-r", "--results_dir", "-m", "--model",
              "-o", "--output", "--output_dir", "-i", "--image_dir", "-d", "--dataset_spec",
              "--cal_image_dir", "--cal_cache_file", "--cal_data_file", "--cal_json_file", "--engine_file",
              "--timing_cache", "--gen_triton_repo"}
SPEC_FLAGS = {"-e", "--experiment_spec", "--experiment_spec_file"}
SPEC_MOUNT_DIR = PurePosixPath("/tao/specs")  # where a spec file outside every mount is shown to the container
# Spec keys whose value is a file or folder, by their last name: the schemas mark these fields `path=True`, and a
# test checks the two agree (tests/unit/test_launcher_mounts.py). Their values are translated whether or not they
# exist yet — a results_dir never does — except a registry name or a URL (`model.pretrained: imagenet`).
PATH_KEY_NAMES = {"results_dir", "root", "image_root", "index", "checkpoint", "pruned_model", "pretrained",
                  "teacher", "trt_engine"}
PATH_KEY_SUFFIXES = ("_dir", "_file", "_list", "_path")


def is_path_key(key: str) -> bool:
    name = key.rsplit(".", 1)[-1].split("[", 1)[0]  # a list of paths: each entry is a path
    return name in PATH_KEY_NAMES or name.endswith(PATH_KEY_SUFFIXES)


def is_path_value(value: str) -> bool:
    """A path key's value that names a file: not empty, not a URL, not the registry's `imagenet`."""
    return bool(value) and value != "imagenet" and "://" not in value and "\n" not in value


class PathTranslator:
    def __init__(self, mounts, cwd=None, mounts_path="~/.tao_mounts.json"):
        # Longest source first, so a nested mount wins over the one that contains it.
        self.mounts = sorted(mounts, key=lambda m: len(m.source.parts), reverse=True)
        self.cwd = Path(cwd or os.getcwd())
        self.mounts_path = mounts_path

    def host_path(self, value) -> Path:
        return Path(os.path.abspath(self.cwd / Path(str(value)).expanduser()))

    def container_path(self, host: Path) -> PurePosixPath | None:
        """Where the container sees `host`, or None when no mount holds it."""
        candidates = {host, Path(os.path.realpath(host))}
        for mount in self.mounts:
            for candidate in candidates:
                try:
                    relative = candidate.relative_to(mount.source)
                except ValueError:
                    continue
                return mount.destination.joinpath(*relative.parts)
        return None

    def translate(self, value, what) -> str:
        host = self.host_path(value)
        inside = self.container_path(host)
        if inside is None:
            if self.under_destination(value) is not None:  # already a container path, as TAO specs write them
                return str(value)
            raise LauncherError(self.outside_message(host, what))
        return str(inside)

    def under_destination(self, value):
        """The mount whose destination holds `value` as written (a container path), or None."""
        if not str(value).startswith("/"):
            return None
        path = PurePosixPath(str(value))
        for mount in sorted(self.mounts, key=lambda m: len(m.destination.parts), reverse=True):
            if path == mount.destination or mount.destination in path.parents:
                return mount
        return None

    def host_of(self, value) -> str:
        """A container path (under a destination) as the host path it is mounted from; other values unchanged."""
        mount = self.under_destination(value)
        if mount is None:
            return value
        return str(mount.source.joinpath(*PurePosixPath(str(value)).relative_to(mount.destination).parts))

    def outside_message(self, host: Path, what) -> str:
        folder = host if host.is_dir() else host.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        return (f"{what} {host} is outside every mount in {self.mounts_path}, so the task's container cannot see it. "
                f"Add a mount that holds it to \"Mounts\", e.g. "
                f"{{\"source\": \"{folder}\", \"destination\": \"/workspace/{folder.name or 'host'}\"}}")

    def working_dir(self) -> str:
        inside = self.container_path(self.cwd)
        return str(inside) if inside is not None else "/workspace"


def looks_like_path(value: str, base: Path) -> bool:
    """An override or spec value is taken for a path when it is absolute, starts with ~ or ./ ../,
    or names something that exists relative to `base`."""
    if not value or "\n" in value or "://" in value:
        return False
    if value.startswith(("/", "~", "./", "../")):
        return True
    return "/" in value and (base / value).exists()


def host_args(args, translator):
    """For the local runtime: container paths (under a mount's destination) in path flags and `key=value`
    overrides become the host paths they are mounted from, so TAO commands written for the container run here."""
    out, previous = [], ""
    for arg in args:
        flag, eq, value = arg.partition("=")
        if previous in PATH_FLAGS and not arg.startswith("-"):
            arg = translator.host_of(arg)
        elif eq and value.startswith("/"):
            arg = f"{flag}={translator.host_of(value)}"
        out.append(arg)
        previous = arg if arg.startswith("-") else ""
    return out


def translate_args(args, translator):
    """Rewrite path flags and path-like `key=value` overrides; return (args, spec_files[(host, container)])."""
    out, specs, index = [], [], 0
    while index < len(args):
        arg = args[index]
        flag, eq, inline = arg.partition("=")
        if arg.startswith("-") and flag in PATH_FLAGS:
            if eq:
                value = inline
            elif index + 1 < len(args):
                index += 1
                value = args[index]
            else:
                out.append(arg)
                break
            if flag in SPEC_FLAGS:
                host = translator.host_path(value)
                inside = translator.container_path(host)
                container = str(inside if inside is not None else SPEC_MOUNT_DIR / host.name)
                specs.append((host, container))
            else:
                container = translator.translate(value, f"{flag}")
            out += [f"{flag}={container}"] if eq else [flag, container]
        elif not arg.startswith("-") and eq and ((is_path_key(flag) and is_path_value(inline))
                                                 or ("." in flag and looks_like_path(inline, translator.cwd))):
            out.append(f"{flag}={translator.translate(inline, f'override {flag}')}")
        else:
            out.append(arg)
        index += 1
    return out, specs


def translate_spec_text(spec_path: Path, translator) -> str:
    """The spec's text with every path value replaced by its container path, in place (same lines, so the
    worker's `file:line` messages still point at the user's file)."""
    import yaml  # the launcher's own dependency; imported here to keep `tao --help` fast

    text = spec_path.read_text()
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return text  # TAO's protobuf text: its paths are container paths already; the worker reports bad syntax
    replacements = []

    def walk(node, key):
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                walk(value_node, f"{key}.{key_node.value}" if key else str(key_node.value))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, f"{key}[{index}]")
        elif isinstance(node, yaml.ScalarNode) and node.tag.endswith(":str") and (
                (is_path_key(key) and is_path_value(node.value)) or looks_like_path(node.value, translator.cwd)):
            where = f"{spec_path}:{node.start_mark.line + 1}: key '{key}':"
            replacements.append((node.start_mark.index, node.end_mark.index, translator.translate(node.value, where)))

    if root is not None:
        walk(root, "")
    for start, end, value in sorted(replacements, reverse=True):
        text = text[:start] + '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' + text[end:]
    return text

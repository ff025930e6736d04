"""What a network's TAO mapping writes: our spec keys with the TAO key (and line) each came from, and the TAO keys
it ignored (with why) or cannot honour. A TAO key the mapping never looked at is reported as not supported, so a
mapping cannot drop a user's setting by forgetting it."""

from dataclasses import dataclass, field

from ...errors import UserError

MISSING = "???"  # TAO 5 (OmegaConf): a required value not given


@dataclass
class Translation:
    network: str
    dialect: str  # "protobuf text" | "TAO 5 YAML"
    source: str
    data: dict = field(default_factory=dict)  # our spec, nested
    origin: dict = field(default_factory=dict)  # our dotted key -> the TAO key it came from
    ignored: list = field(default_factory=list)  # (TAO key, why)
    unsupported: list = field(default_factory=list)  # (TAO key, why)
    notes: list = field(default_factory=list)  # said to the user: substitutions, approximations
    lines: dict = field(default_factory=dict)  # TAO dotted key -> line in the TAO file
    command_line: set = field(default_factory=set)  # TAO keys set by overrides
    our_overrides: list = field(default_factory=list)  # keys of the overrides left for our spec

    def line_of(self, tao_key):
        """The line of the TAO key, or of the nearest enclosing key that has one."""
        key = tao_key
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key.rsplit(".", 1)[0] if "." in key else ""
        return None

    def where(self, tao_key):
        if tao_key in self.command_line:
            return "command line"
        line = self.line_of(tao_key)
        return f"{self.source}:{line}" if line else self.source


class Mapper:
    """Walks a TAO document: `view()` reads it, `put` writes our keys, `ignore` / `unsupported` report the rest."""

    def __init__(self, translation, tree):
        self.t = translation
        self.tree = tree
        self.touched = set()

    def view(self, key=""):
        return View(self, _lookup(self.tree, key) if key else self.tree, key)

    def put(self, ours, value, tao_key):
        node = self.t.data
        *parents, last = ours.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
        self.t.origin[ours] = tao_key
        self.touched.add(tao_key)

    def ignore(self, tao_key, why):
        self.t.ignored.append((tao_key, why))
        self.touched.add(tao_key)

    def unsupported(self, tao_key, why):
        self.t.unsupported.append((tao_key, why))
        self.touched.add(tao_key)

    def handled(self, tao_key):
        """Read as a whole by the mapping (its fields went into our keys one by one)."""
        self.touched.add(tao_key)

    def note(self, text):
        self.t.notes.append(text)

    def finish(self):
        """Every leaf no mapping step looked at is not supported: named, never silently dropped."""
        for key, value in _leaves(self.tree, ""):
            if value != MISSING and not any(key == t or key.startswith(t + ".") or key.startswith(t + "[") for t in self.touched):
                self.t.unsupported.append((key, "no mapping for this TAO key"))
        return self.t


class View:
    """One TAO message. `get` reads a field (and counts it as handled only when the caller maps or ignores it)."""

    def __init__(self, mapper, node, key):
        # TAO 5's `???` (required, not given) reads as absent: our default stays (reported by translate)
        self.mapper, self.key = mapper, key
        self.node = {k: v for k, v in node.items() if v != MISSING} if isinstance(node, dict) else {}

    def full(self, name):
        return f"{self.key}.{name}" if self.key else name

    def has(self, name):
        return name in self.node

    def get(self, name, default=None):
        return self.node.get(name, default)

    def sub(self, name):
        return View(self.mapper, self.node.get(name), self.full(name))

    def subs(self, name):
        """A message field that may be repeated: one View per entry (TAO files repeat it or give it once)."""
        value = self.node.get(name)
        if isinstance(value, list):
            return [View(self.mapper, v, f"{self.full(name)}[{i}]") for i, v in enumerate(value)]
        return [] if value is None else [View(self.mapper, value, self.full(name))]

    def entries(self, name):
        """A map field (`{key: K value: V}` entries): (K, value, TAO key of the entry)."""
        value = self.node.get(name) or {}
        if not isinstance(value, dict):
            return []
        return [(k, v, f"{self.full(name)}.{k}") for k, v in value.items()]

    def names(self):
        return list(self.node)

    # what the mapping does with a field
    def map(self, name, ours, convert=lambda v: v):
        if name in self.node:
            try:
                value = convert(self.node[name])
            except (TypeError, ValueError, IndexError, ZeroDivisionError):
                raise UserError(f"{self.mapper.t.where(self.full(name))}: '{self.full(name)}' is "
                                f"{self.node[name]!r}, which does not fit our '{ours}'; fix its value") from None
            self.mapper.put(ours, value, self.full(name))

    def ignore(self, name, why):
        if name in self.node:
            self.mapper.ignore(self.full(name), why)

    def ignore_unless(self, name, harmless, why):
        """Ignored when its value is one of `harmless` (what we do anyway), else not supported."""
        if name in self.node:
            value = self.node[name]
            if value in harmless:
                self.mapper.ignore(self.full(name), why)
            else:
                self.mapper.unsupported(self.full(name), f"{value!r}: {why}")

    def unsupported(self, name, why):
        if name in self.node:
            self.mapper.unsupported(self.full(name), why)



def _lookup(tree, key):
    node = tree
    for part in key.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _leaves(node, prefix):
    """(dotted key, value) of every leaf; an empty message is a leaf too."""
    if isinstance(node, dict):
        if not node and prefix:
            yield prefix, node
        for name, value in node.items():
            yield from _leaves(value, f"{prefix}.{name}" if prefix else str(name))
    elif isinstance(node, list) and any(isinstance(v, dict) for v in node):
        for number, value in enumerate(node):
            yield from _leaves(value, f"{prefix}[{number}]")
    else:
        yield prefix, node

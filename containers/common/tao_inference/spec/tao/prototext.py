"""TAO's protobuf-text spec files (TAO 3-5 TF1 networks), read without their .proto schema.

The tokens come from protobuf's own text-format tokenizer (comments, both quote styles, escapes, adjacent string
concatenation, `0.`, `1e-5`, `-3`); the grammar on top is protobuf's text format: `name: value`, `name { ... }`
or `name: { ... }` (also `< ... >`), `name: [v, ...]`, `name [ { ... }, { ... } ]`, fields separated by nothing,
`,` or `;`.

Without a schema a field is a list only when it is repeated in the file; a map field's `{key: K value: V}`
entries become a dict. Every key's line is kept, as dotted keys (`dataset_config.data_sources[1].image_directory_path`,
`postprocessing_config.target_class_config.car.clustering_config`), so errors can point into the user's file.
"""

import re

from google.protobuf import text_format

from ...errors import UserError

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)[fF]?$")
_INTEGER = re.compile(r"[+-]?(0|[1-9]\d*)$")
_HEX = re.compile(r"[+-]?0[xX][0-9a-fA-F]+$")
_BOOLS = {"true": True, "True": True, "false": False, "False": False}
_CLOSING = {"{": "}", "<": ">"}


class _Message(list):
    """A message's fields, (name, value, line) each: told apart from a list value (`name: [1, 2]`)."""


class _Parser:
    def __init__(self, text, source):
        self.source = source
        self.tok = text_format.Tokenizer(text.splitlines())

    def fail(self, message, position=None):
        position = position or self.tok.ParseError(message)
        raise UserError(f"{self.source}:{position.GetLine()}:{position.GetColumn()}: {message}")

    def found(self):
        return "the end of the file" if self.tok.AtEnd() else repr(self.tok.token)

    def here(self):
        position = self.tok.ParseError("")
        return position.GetLine()

    def message(self, closing=None):
        """Fields until `closing` (or the end of the file): a list of (name, value, line)."""
        fields = _Message()
        while True:
            if closing is None and self.tok.AtEnd():
                return fields
            if closing is not None and self.tok.TryConsume(closing):
                return fields
            if self.tok.AtEnd():
                self.fail(f"the file ends inside a message: '{closing}' is missing")
            line = self.here()
            if not re.match(r"[A-Za-z_]\w*$", self.tok.token):
                self.fail(f"expected a field name, found {self.found()}")
            name = self.tok.ConsumeIdentifier()
            colon = self.tok.TryConsume(":")
            if self.tok.token in _CLOSING:
                value = self.submessage()
            elif self.tok.TryConsume("["):  # `name: [1, 2]`, or `name [ {...}, {...} ]` (colon optional)
                value = []
                if not self.tok.TryConsume("]"):
                    while True:
                        value.append(self.submessage() if self.tok.token in _CLOSING else self.scalar(name))
                        if self.tok.TryConsume("]"):
                            break
                        if not self.tok.TryConsume(","):
                            self.fail(f"expected ',' or ']' in the list of '{name}', found {self.found()}")
            elif not colon:
                self.fail(f"expected ':' or '{{' after '{name}', found {self.found()}")
            else:
                value = self.scalar(name)
            fields.append((name, value, line))
            if not self.tok.TryConsume(","):
                self.tok.TryConsume(";")

    def submessage(self):
        opening = self.tok.token
        self.tok.NextToken()
        return self.message(_CLOSING[opening])

    def scalar(self, name):
        token = self.tok.token
        if self.tok.AtEnd() or token in ("}", ">", "]", ",", ";", ":", "{", "<", "["):
            self.fail(f"'{name}' has no value")
        if token[0] in "'\"":
            try:
                return self.tok.ConsumeString()
            except text_format.ParseError:
                self.fail(f"the string value of '{name}' is not closed or has a bad escape")
        position = self.tok.ParseError("")
        self.tok.NextToken()
        if token in _BOOLS:
            return _BOOLS[token]
        if _INTEGER.match(token) or _HEX.match(token):
            return int(token, 0)
        if _NUMBER.match(token):
            return float(token.rstrip("fF"))
        if re.match(r"[A-Za-z_]\w*$", token):
            return token  # an enum name (DBSCAN, INTEGRATE, FLOAT32) or inf/nan: kept as written
        self.fail(f"'{name}' has a value that is not a number, string, true/false or enum name: {token!r}", position)


def _is_map_entries(values):
    return all(isinstance(v, _Message) and {n for n, _, _ in v} <= {"key", "value"} and
               [n for n, _, _ in v].count("key") == 1 and [n for n, _, _ in v].count("value") <= 1 for v in values)


def _finalize(fields, prefix, lines, source):
    """(name, value, line) lists -> nested dicts; a name given twice -> a list; map entries -> a dict."""
    grouped = {}
    for name, value, line in fields:
        grouped.setdefault(name, []).append((value, line))
    result = {}
    for name, occurrences in grouped.items():
        key = f"{prefix}{name}"
        values = [v for v, _ in occurrences]
        if _is_map_entries(values):
            mapping = {}
            lines[key] = occurrences[0][1]
            for entry, line in occurrences:
                parts = dict((n, v) for n, v, _ in entry)
                map_key = str(parts["key"])
                if map_key in mapping:
                    raise UserError(f"{source}:{line}: '{key}' has key {map_key!r} twice (first on line "
                                    f"{lines[f'{key}.{map_key}']}); keep one")
                lines[f"{key}.{map_key}"] = line
                value = parts.get("value")
                mapping[map_key] = _finalize(value, f"{key}.{map_key}.", lines, source) if _is_message(value) else value
            result[name] = mapping
        else:
            # a bracketed list of messages (`input [ {...}, {...} ]`) counts as that many occurrences, and is a list
            # even of one; a field given once otherwise is a value, given again a list
            items, bracketed = [], False
            for value, line in occurrences:
                if isinstance(value, list) and not _is_message(value) and any(_is_message(v) for v in value):
                    items += [(item, line) for item in value]
                    bracketed = True
                else:
                    items.append((value, line))
            lines[key] = occurrences[0][1]
            if len(items) == 1 and not bracketed:
                value, _ = items[0]
                result[name] = _finalize(value, key + ".", lines, source) if _is_message(value) else value
                continue
            values = []
            for number, (value, line) in enumerate(items):
                lines[f"{key}[{number}]"] = line
                values.append(_finalize(value, f"{key}[{number}].", lines, source) if _is_message(value) else value)
            result[name] = values
    return result


def _is_message(value):
    return isinstance(value, _Message)


def parse_prototext(text, source="spec"):
    """(tree, lines): the document as nested dicts/lists, and the 1-based line of every dotted key."""
    parser = _Parser(text, source)
    try:
        fields = parser.message()
    except text_format.ParseError as exc:  # the tokenizer's own (e.g. a bad string escape)
        raise UserError(f"{source}:{exc.GetLine()}:{exc.GetColumn()}: not valid protobuf text") from None
    lines = {}
    return _finalize(fields, "", lines, source), lines


def looks_like_prototext(text):
    """Protobuf text, not YAML: some `name {` opening of a message (YAML never writes a bare name before `{`)."""
    return re.search(r"^\s*[A-Za-z_]\w*\s*:?\s*[{<]\s*(#.*)?$|^\s*[A-Za-z_]\w*\s*[{<]", text, re.MULTILINE) is not None

"""Typed spec files: dataclass schemas with defaults, YAML + dotted overrides, errors that name the key."""

from .loader import dump_spec, load_spec, spec_field, to_dict

__all__ = ["dump_spec", "load_spec", "spec_field", "to_dict"]

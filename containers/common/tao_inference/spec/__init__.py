"""Typed spec files: dataclass schemas with defaults, YAML + dotted overrides, errors that name the key."""

from .loader import describe_bounds, dump_spec, load_spec, spec_field, to_dict

__all__ = ["describe_bounds", "dump_spec", "load_spec", "spec_field", "to_dict"]

"""Data readers, transforms and the synthetic sample generator."""

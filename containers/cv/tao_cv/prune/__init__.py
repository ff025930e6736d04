"""TAO-semantic pruning on Torch-Pruning's dependency graph."""

from .tao_pruner import prune_model

__all__ = ["prune_model"]

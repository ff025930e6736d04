"""The engine every task shares: device choice, checkpoints, the training loop, logs and plots."""

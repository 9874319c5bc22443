"""The training-loop rules: the training step (T2G501), gradients and parameters in the loop (T2G502-T2G505)."""

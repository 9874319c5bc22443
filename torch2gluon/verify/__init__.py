"""Verification harness: run a PyTorch script and its Gluon translation side by side.

Nothing here imports torch, mxnet or numpy at import time: those are imported
only inside functions that run in the child process (``torch2gluon.verify.child``)
or in helpers that are explicitly about data (``torch2gluon.verify.mnist``).

Public entry points:

* :func:`torch2gluon.verify.harness.run_script` -- run one script in a child
  process with offline MNIST, loss recording and an optional step limit.
* :func:`torch2gluon.verify.harness.compare_epoch_means` -- compare two runs.
"""

from .harness import EpochComparison, RunResult, StepRecord, compare_epoch_means, run_script

__all__ = ["run_script", "compare_epoch_means", "RunResult", "StepRecord", "EpochComparison"]

"""Closed world: a method translated only in some forms is refused in the others on a known tensor.

The peer suite found `l.weight.data.numpy(force=True)` passed through unchanged
(an NDArray has no `.numpy`): a complete translation that crashed.
"""

from __future__ import annotations

import pytest

from torch2gluon import Severity, translate


@pytest.mark.parametrize(
    "call",
    ["x.numpy(force=True)", "x.clone(memory_format=torch.contiguous_format)", "x.tolist(1)", "x.item(0)", "x.dim(0)"],
)
def test_a_known_tensor_s_method_in_an_untranslated_form_is_refused(call):
    r = translate(f"import torch\nx = torch.ones(3)\ny = {call}\n")
    errors = [d for d in r.diagnostics if d.severity is Severity.ERROR]
    assert errors and {d.line for d in errors} == {3}, r.diagnostics


def test_a_parameter_s_data_numpy_with_force_is_refused():
    src = "import torch\nl = torch.nn.Linear(2, 1)\nw = l.weight.data.numpy(force=True)\nv = l.weight.data.numpy()\n"
    r = translate(src)
    assert [d.line for d in r.diagnostics if d.severity is Severity.ERROR] == [3]
    assert "v = l.weight.data().asnumpy()" in r.code

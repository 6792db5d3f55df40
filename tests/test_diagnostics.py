"""Tests of lrfinder.diagnostics: the advice in the errors a failing first batch raises."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lrfinder import DataError, range_test


@pytest.mark.parametrize("loss_fn", [F.mse_loss, nn.L1Loss()])
def test_class_labels_given_to_a_regression_loss_are_named_with_the_loss_to_use(loss_fn: object) -> None:
    # loss_fn=F.mse_loss over a 10-class classifier and int64 labels: the error was torch's "The size of tensor a
    # (10) must match the size of tensor b (32) at non-singleton dimension 1" and the general shape-and-dtype advice.
    gen = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(64, 8, generator=gen), torch.randint(0, 10, (64,), generator=gen))
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 10))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(DataError) as info:
        range_test(model, DataLoader(data, batch_size=32), loss_fn=loss_fn, num_steps=10)
    message = str(info.value)
    assert "The targets are int64 class labels of shape (32,) and the output has 10 scores per example" in message
    assert "use loss_fn=F.cross_entropy" in message and "F.one_hot(y, 10).float()" in message
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_float_targets_of_another_width_get_no_class_label_advice() -> None:
    gen = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(64, 8, generator=gen), torch.randn(64, 3, generator=gen))
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 10))
    with pytest.raises(DataError) as info:
        range_test(model, DataLoader(data, batch_size=32), loss_fn=F.mse_loss, num_steps=10)
    assert "class labels" not in str(info.value)

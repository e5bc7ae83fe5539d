"""The app suite's pieces that need no server: reading the adapter's time off the status line."""

from __future__ import annotations

import pytest

from segdemo.bench import app


@pytest.mark.parametrize(
    ("status", "ms"),
    [
        ("**DeepLabV3-ResNet50** on cpu in fp32: 3 segments · preprocess 12 ms · model 300 ms"
         " · postprocess 20 ms", 332.0),
        ("**Mask2Former** on cpu in bf16: 0 segments · load 5000 ms · preprocess 1.5 ms"
         " · model 900 ms · postprocess 3 ms", 904.5),
    ],
)  # fmt: skip
def test_the_adapter_time_is_its_stage_times_but_loading(status: str, ms: float) -> None:
    assert app._adapter_ms(status) == ms


def test_a_status_line_without_times_is_an_error() -> None:
    with pytest.raises(ValueError, match="no stage times"):
        app._adapter_ms("Run the model first")


def test_every_model_tab_is_timed() -> None:
    assert set(app.TABS) == {"semantic", "instance", "panoptic"}

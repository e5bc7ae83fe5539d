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


def test_the_client_setup_clock_counts_httpx_clients_and_puts_httpx_back() -> None:
    import httpx

    build = httpx.Client.__init__
    with app._client_setup_ms() as setup:
        httpx.Client().close()
        httpx.Client().close()
    assert httpx.Client.__init__ is build
    assert len(setup) == 1 and setup[0] > 0
    with app._client_setup_ms() as nothing:
        pass
    assert nothing == [0.0]


def test_a_sample_times_the_call_and_keeps_its_answer() -> None:
    import httpx

    def call() -> str:
        httpx.Client().close()
        return "answer"

    sample, answer = app._sample(call)
    assert answer == "answer"
    assert 0 < sample.client_setup_ms <= sample.ms

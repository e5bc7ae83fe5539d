"""/live_video through gradio_client: a clip in, an H.264 MP4 of the same frames out."""

from __future__ import annotations

import numpy as np
import pytest
from gradio_client import handle_file

from tests.test_video import read_clip, write_clip

pytestmark = pytest.mark.e2e


def segment_clip(client, path) -> tuple:
    """/live_video on ``path``: overlay mode, LRASPP, working size 160."""
    return client.predict(
        handle_file(str(path)),
        "lraspp_mobilenet_v3_large",
        "overlay",
        ["person"],
        None,
        160,
        api_name="/live_video",
    )


def test_a_clip_comes_back_painted_with_its_frames(client, tmp_path) -> None:
    clip = write_clip(tmp_path / "walk.mp4", frames=4)
    painted, summary = segment_clip(client, tmp_path / "walk.mp4")
    path = painted["video"] if isinstance(painted, dict) else painted
    frames, fps = read_clip(path)
    assert frames.shape == clip.shape and fps == 10
    assert np.abs(frames.astype(int) - clip).mean() > 10  # the class colours are painted over
    assert summary.startswith("4 frames · 128×96")


def test_a_text_file_as_a_clip_gets_one_sentence(client, tmp_path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(Exception, match=r"notes\.mp4 is not a video that can be read"):
        segment_clip(client, bad)

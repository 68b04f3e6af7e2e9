"""TensorBoard shows the fixed-noise grids next to the scalars: read back with its own reader."""
import io

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import ganforge
from ganforge import config as C

from conftest import tiny

SETUPS = {"digits": {"data": {"name": "digits", "resolution": 16}, "model": {"family": "dcgan"}},
          "ring8": {"data": {"name": "ring8"}, "model": {"family": "mlp", "d_norm": "none"}}}


@pytest.mark.parametrize("name", list(SETUPS))
def test_fixed_noise_grids_are_tensorboard_images(tmp_path, name):
    run = ganforge.train(C.from_dict(tiny(SETUPS[name], train={"tensorboard": True, "steps": 4, "sample_every": 2})),
                         out=tmp_path / "run")
    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0})
    acc.Reload()
    assert "loss_d" in acc.Tags()["scalars"] and acc.Tags()["images"] == ["samples/fixed_noise"]
    events = acc.Images("samples/fixed_noise")
    assert [e.step for e in events] == [2, 4]
    for e in events:  # the very picture written to samples/, pixel for pixel
        shown = np.asarray(Image.open(io.BytesIO(e.encoded_image_string)).convert("RGB"))
        on_disk = np.asarray(Image.open(run / "samples" / f"step-{e.step:06d}.png").convert("RGB"))
        assert (e.height, e.width) == on_disk.shape[:2] and np.array_equal(shown, on_disk)

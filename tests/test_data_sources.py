import numpy as np
import pytest
import torch

from ganforge import data
from ganforge.config import DataConfig
from ganforge.data.base import ImageSource, RawImages, to_model_images
from ganforge.errors import DataError

CPU = torch.device("cpu")


def test_digits_are_upsampled_images_in_minus_one_one_with_labels():
    src = data.build(DataConfig(name="digits", resolution=32))
    assert src.info.shape == (1, 32, 32) and src.info.num_classes == 10
    x, y = next(src.batches(16, CPU))
    assert x.shape == (16, 1, 32, 32) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1 and x.min() < -0.9 and x.max() > 0.9
    assert y.dtype == torch.int64 and 0 <= y.min() and y.max() <= 9
    assert len(src) == 1797


def test_channels_option_converts_gray_to_rgb():
    src = data.build(DataConfig(name="digits", resolution=16, channels=3))
    x, _ = next(src.batches(4, CPU))
    assert x.shape == (4, 3, 16, 16) and torch.equal(x[:, 0], x[:, 2])


def test_resize_keeps_the_centre_of_the_shorter_side():
    img = np.zeros((1, 20, 40, 1), np.uint8)
    img[:, :, 10:30] = 255  # a bright middle half, dark left and right quarters
    out = to_model_images(RawImages(img), 10, 1)
    assert out.shape == (1, 1, 10, 10)
    assert out.min() > 200  # the centre crop kept only the bright middle


def test_batches_resume_exactly_mid_epoch():
    x = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 1, 2, 2).contiguous()
    info = data.DataInfo("image", (1, 2, 2), 0)
    a = ImageSource(x, None, info, seed=3)
    it = a.batches(3, CPU)
    seen = [next(it)[0][:, 0, 0, 0] for _ in range(4)]  # crosses an epoch (10 // 3 = 3 per epoch)
    b = ImageSource(x, None, info, seed=3)
    b.load_state_dict(a.state_dict())
    assert torch.equal(next(a.batches(3, CPU))[0], next(b.batches(3, CPU))[0])
    # within an epoch no image repeats; every batch has the full size
    first_epoch = torch.cat(seen[:3])
    assert len(set(first_epoch.tolist())) == 9 and all(len(s) == 3 for s in seen)


def test_batch_larger_than_dataset_is_a_clear_error():
    src = ImageSource(torch.zeros(4, 1, 2, 2, dtype=torch.uint8), None, data.DataInfo("image", (1, 2, 2), 0))
    with pytest.raises(DataError, match="batch size 8 is larger than the dataset"):
        next(src.batches(8, CPU))


def test_shared_mnist_through_the_registry(shared_datasets):
    src = data.build(DataConfig(name="mnist", root=str(shared_datasets), resolution=28))
    assert len(src) == 60000 and src.info.shape == (1, 28, 28) and src.info.num_classes == 10
    mean = float(src.images.float().mean())
    assert abs(mean - 33.32) < 0.01  # the published train pixel mean: nothing was resized or shifted


def test_shared_cifar_test_split(shared_datasets):
    src = data.build(DataConfig(name="cifar10", root=str(shared_datasets), split="test", resolution=32))
    assert len(src) == 10000 and src.info.shape == (3, 32, 32)
    assert src.info.class_names[0] == "airplane"


def test_data_root_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path))
    assert data.data_root(DataConfig(name="mnist")) == tmp_path
    with pytest.raises(DataError, match=str(tmp_path)):
        data.build(DataConfig(name="mnist", download=False))


def test_folder_source_with_labels(tmp_path):
    from PIL import Image

    for cls in ("cats", "dogs"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.new("RGB", (30, 20), (i * 40, 0, 0)).save(tmp_path / cls / f"{i}.png")
    src = data.build(DataConfig(name="folder", root=str(tmp_path), resolution=16))
    assert src.info.num_classes == 2 and src.info.class_names == ["cats", "dogs"]
    x, y = next(src.batches(6, CPU))
    assert x.shape == (6, 3, 16, 16) and sorted(y.tolist()) == [0, 0, 0, 1, 1, 1]
    assert isinstance(src.images, torch.Tensor)  # small: held in memory


def test_folder_larger_than_the_memory_budget_streams_the_same_batches(tmp_path):
    from PIL import Image

    for i in range(6):
        Image.new("RGB", (512, 512), (i * 40, 255 - i * 40, 7)).save(tmp_path / f"{i}.png")
    # 6 x 3 x 512 x 512 bytes = 4.5 MB: over a 1 MB budget, within the default one
    streamed = data.build(DataConfig(name="folder", root=str(tmp_path), resolution=512, max_memory_mb=1))
    in_memory = data.build(DataConfig(name="folder", root=str(tmp_path), resolution=512))
    assert isinstance(streamed.images, np.memmap) and isinstance(in_memory.images, torch.Tensor)
    a, b = streamed.batches(4, CPU), in_memory.batches(4, CPU)
    for _ in range(3):
        assert torch.equal(next(a)[0], next(b)[0])

"""Joint transforms: image and label stay aligned, padding is ignore, normalisation inverts."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deeplab_edu.datasets import IGNORE_INDEX, EvalTransform, TrainTransform, denormalize, normalize
from deeplab_edu.datasets.transforms import IMAGENET_MEAN


def blocks(h: int, w: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A label of 6-pixel blocks and an image whose red channel spells the label (20 × class)."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 8, (h // 6 + 1, w // 6 + 1))
    label = np.kron(cells, np.ones((6, 6), dtype=np.int64))[:h, :w].astype(np.uint8)
    image = np.zeros((h, w, 3), np.uint8)
    image[..., 0] = 20 * label
    image[..., 1] = rng.integers(0, 256)
    return image, label


@settings(max_examples=40, deadline=None)
@given(h=st.integers(12, 60), w=st.integers(12, 60), crop=st.integers(5, 80), seed=st.integers(0, 10_000))
def test_image_and_label_stay_aligned(h, w, crop, seed):
    image, label = blocks(h, w, seed)
    x, y = TrainTransform(crop, generator=torch.Generator().manual_seed(seed))(image, label)
    assert x.shape == (3, crop, crop) and y.shape == (crop, crop)
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert set(y.unique().tolist()) <= set(np.unique(label).tolist()) | {IGNORE_INDEX}
    red = denormalize(x)[..., 0].astype(int)
    y = y.numpy()
    # Away from block edges (where bilinear blends two classes) the image spells the label.
    inner = np.ones_like(y, dtype=bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            inner[1:-1, 1:-1] &= y[1 + dy:crop - 1 + dy, 1 + dx:crop - 1 + dx] == y[1:-1, 1:-1]
    inner[[0, -1], :] = inner[:, [0, -1]] = False
    inner &= y != IGNORE_INDEX
    assert np.all(np.abs(red[inner] - 20 * y[inner]) <= 2)


def test_padding_is_ignore_in_the_label_and_the_mean_in_the_image():
    image, label = blocks(20, 30, 0)
    x, y = TrainTransform(64, scale=(1.0, 1.0), flip=False)(image, label)
    assert (y[20:, :] == IGNORE_INDEX).all() and (y[:, 30:] == IGNORE_INDEX).all()
    np.testing.assert_array_equal(y[:20, :30].numpy(), label)  # no scaling, no flip: the image itself
    mean = np.round(np.array(IMAGENET_MEAN) * 255).astype(int)
    assert np.all(np.abs(denormalize(x)[40, 50].astype(int) - mean) <= 1)


def test_scale_one_crop_is_a_window_of_the_input():
    image, label = blocks(40, 50, 3)
    for seed in range(10):
        _, y = TrainTransform(17, scale=(1.0, 1.0), flip=False,
                              generator=torch.Generator().manual_seed(seed))(image, label)
        windows = [(t, l) for t in range(40 - 16) for l in range(50 - 16)
                   if np.array_equal(label[t:t + 17, l:l + 17], y.numpy())]
        assert windows, "the crop must be some 17x17 window of the label"


def test_flip_happens_about_half_the_time_and_mirrors_both():
    image, label = blocks(18, 18, 5)
    flipped = 0
    for seed in range(200):
        x, y = TrainTransform(18, scale=(1.0, 1.0), generator=torch.Generator().manual_seed(seed))(image, label)
        if np.array_equal(y.numpy(), label[:, ::-1]) and not np.array_equal(label, label[:, ::-1]):
            flipped += 1
            assert np.array_equal(denormalize(x)[..., 0], image[:, ::-1, 0])
        else:
            assert np.array_equal(y.numpy(), label)
    assert 70 < flipped < 130  # Binomial(200, ½): outside this band with probability < 1e-4


def test_scale_range_is_respected():
    image, label = blocks(30, 30, 1)
    sizes = set()
    for seed in range(100):
        t = TrainTransform(100, scale=(0.5, 2.0), flip=False, generator=torch.Generator().manual_seed(seed))
        _, y = t(image, label)  # the crop (100) exceeds every scaled size (15..60): nothing is cut
        rows = (y != IGNORE_INDEX).any(1).sum().item()
        sizes.add(rows)
    assert min(sizes) >= 15 and max(sizes) <= 60 and len(sizes) > 20


def test_same_generator_seed_same_sample():
    image, label = blocks(40, 40, 2)
    a = TrainTransform(21, generator=torch.Generator().manual_seed(9))(image, label)
    b = TrainTransform(21, generator=torch.Generator().manual_seed(9))(image, label)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_eval_transform_keeps_the_whole_image():
    image, label = blocks(23, 31, 4)
    label[0, 0] = IGNORE_INDEX
    x, y = EvalTransform()(image, label)
    assert x.shape == (3, 23, 31)
    np.testing.assert_array_equal(y.numpy(), label)
    np.testing.assert_array_equal(denormalize(x), image)


def test_normalize_matches_the_formula_and_denormalize_inverts_it():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    x = normalize(image)
    expected = (image[2, 3, 1] / 255 - 0.456) / 0.224  # ImageNet green mean and std
    assert abs(x[1, 2, 3].item() - expected) < 1e-5
    np.testing.assert_array_equal(denormalize(x), image)
    np.testing.assert_array_equal(denormalize(torch.stack([x, x])), np.stack([image, image]))


@pytest.mark.parametrize("kwargs, message", [
    ({"crop_size": 0}, r"crop_size must be a positive integer, got 0"),
    ({"crop_size": 32.5}, r"crop_size must be a positive integer, got 32\.5"),
    ({"crop_size": 32, "scale": (2.0, 0.5)}, r"scale must be \(low, high\) with 0 < low <= high"),
    ({"crop_size": 32, "scale": (0.0, 1.0)}, r"scale must be"),
])
def test_bad_transform_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainTransform(**kwargs)


def test_bad_pairs_are_named():
    image, label = blocks(10, 10, 0)
    with pytest.raises(ValueError, match=r"label must be an \(H, W\) array matching the image's \(10, 10\), got shape \(10, 9\)"):
        EvalTransform()(image, label[:, :9])
    with pytest.raises(ValueError, match=r"image must be an \(H, W, 3\) RGB array, got shape \(10, 10\)"):
        EvalTransform()(image[..., 0], label)
    with pytest.raises(TypeError, match=r"image must be uint8"):
        EvalTransform()(image.astype(np.float32), label)
    with pytest.raises(TypeError, match=r"label must hold integer class indices"):
        EvalTransform()(image, label.astype(np.float32))
    with pytest.raises(ValueError, match=r"tensor must be \(3, H, W\) or \(N, 3, H, W\)"):
        denormalize(torch.zeros(4, 5, 5))

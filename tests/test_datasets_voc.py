"""The VOC reader on tiny generated VOC trees, and every bad-input case named in issue 5."""

import numpy as np
import pytest
import torch
from PIL import Image

from datasets_cases import make_voc, save_palette_png
from deeplab_edu.datasets import VOC_CLASSES, build_dataset, denormalize
from deeplab_edu.datasets.voc import VOCSegmentation, read_label

SPLITS = {"train": ["2007_000032", "2007_000039", "2008_000002"], "val": ["2007_000033", "2009_000001"]}


@pytest.fixture
def voc(tmp_path):
    root = tmp_path / "VOCdevkit" / "VOC2012"
    return root, make_voc(root, SPLITS)


def test_reader_yields_what_was_written(voc):
    root, written = voc
    ds = build_dataset("voc", "train", root=root)
    assert ds.ids == SPLITS["train"] and len(ds) == 3
    assert ds.num_classes == 21 and ds.class_names == VOC_CLASSES
    for k, image_id in enumerate(ds.ids):
        x, y = ds[k]
        label = written[image_id][1]
        assert x.dtype == torch.float32 and x.shape == (3, *label.shape)
        assert y.dtype == torch.int64
        np.testing.assert_array_equal(y.numpy(), label)  # PNG is lossless: 255 stays 255
        # JPEG is lossy: compare with the decoded file; normalising must lose nothing else.
        decoded = np.asarray(Image.open(root / "JPEGImages" / f"{image_id}.jpg").convert("RGB"))
        assert np.abs(denormalize(x).astype(int) - decoded.astype(int)).max() <= 1


def test_palette_png_and_grayscale_png_hold_the_same_indices(voc, tmp_path):
    root, written = voc
    label = written["2007_000032"][1]
    Image.fromarray(label, mode="L").save(tmp_path / "gray.png")
    np.testing.assert_array_equal(read_label(tmp_path / "gray.png", 21),
                                  read_label(root / "SegmentationClass" / "2007_000032.png", 21))


def test_missing_split_file_names_the_file(voc):
    root, _ = voc
    with pytest.raises(FileNotFoundError, match=r"split file .*test\.txt does not exist.*one image id per line"):
        VOCSegmentation(root, "test")


def test_empty_split_file_names_the_file(voc):
    root, _ = voc
    (root / "ImageSets" / "Segmentation" / "empty.txt").write_text("\n")
    with pytest.raises(ValueError, match=r"split file .*empty\.txt lists no image ids"):
        VOCSegmentation(root, "empty")


def test_split_listing_a_missing_id_names_split_id_and_image(voc):
    root, _ = voc
    (root / "ImageSets" / "Segmentation" / "train.txt").write_text("2007_000032\n2011_999999\n")
    with pytest.raises(FileNotFoundError, match=r"train\.txt lists id '2011_999999' but its image .*2011_999999\.jpg"):
        VOCSegmentation(root, "train")


def test_image_without_label_names_the_expected_label(voc):
    root, _ = voc
    (root / "SegmentationClass" / "2007_000039.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"2007_000039\.jpg has no label: expected .*SegmentationClass/2007_000039\.png"):
        VOCSegmentation(root, "train")


def test_rgb_label_png_is_refused_with_a_hint(voc):
    root, written = voc
    label = written["2007_000032"][1]
    Image.fromarray(np.stack([label] * 3, -1)).save(root / "SegmentationClass" / "2007_000032.png")
    ds = VOCSegmentation(root, "train")
    with pytest.raises(ValueError, match=r"2007_000032\.png is a 'RGB' image; expected a palette \('P'\).*class indices, not colours"):
        ds[0]


@pytest.mark.parametrize("bad_value", [21, 100, 254])
def test_label_values_outside_classes_and_ignore_are_refused(voc, bad_value):
    root, written = voc
    label = written["2007_000039"][1].copy()
    label[0, 0] = bad_value
    save_palette_png(root / "SegmentationClass" / "2007_000039.png", label)
    ds = VOCSegmentation(root, "train")
    with pytest.raises(ValueError, match=rf"2007_000039\.png holds values \[{bad_value}\] outside the expected 0\.\.20 \(classes\) and 255 \(ignore\)"):
        ds[1]


def test_fewer_classes_make_the_same_value_invalid(voc):
    root, _ = voc
    ds = VOCSegmentation(root, "train", class_names=("background", "thing"))
    with pytest.raises(ValueError, match=r"outside the expected 0\.\.1"):
        ds[0]


def test_corrupt_image_names_the_file(voc):
    root, _ = voc
    (root / "JPEGImages" / "2007_000032.jpg").write_bytes(b"this is not a jpeg")
    ds = VOCSegmentation(root, "train")
    with pytest.raises(ValueError, match=r"image file .*2007_000032\.jpg is corrupt or truncated.*expected a readable JPEG"):
        ds[0]


def test_truncated_image_names_the_file(voc):
    root, _ = voc
    path = root / "JPEGImages" / "2008_000002.jpg"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    ds = VOCSegmentation(root, "train")
    with pytest.raises(ValueError, match=r"2008_000002\.jpg is corrupt or truncated"):
        ds[2]


def test_corrupt_label_names_the_file(voc):
    root, _ = voc
    (root / "SegmentationClass" / "2007_000033.png").write_bytes(b"\x89PNG broken")
    ds = VOCSegmentation(root, "val")
    with pytest.raises(ValueError, match=r"label file .*2007_000033\.png is corrupt or truncated"):
        ds[0]


def test_label_of_another_size_names_both_sizes(voc):
    root, _ = voc
    save_palette_png(root / "SegmentationClass" / "2009_000001.png", np.zeros((10, 12), np.uint8))
    ds = VOCSegmentation(root, "val")
    with pytest.raises(ValueError, match=r"2009_000001\.png is 12x10 but its image is 32x24"):
        ds[1]


def test_missing_voc_folder_points_to_the_readme(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"VOC 2012 folder .* does not exist; see data/README\.md"):
        build_dataset("voc", "train", root=tmp_path / "nowhere")


def test_unknown_dataset_name_lists_the_choices():
    with pytest.raises(ValueError, match=r"name must be one of \('builtin', 'sample', 'voc', 'voc_aug'\), got 'coco'"):
        build_dataset("coco", "train")


def test_voc_aug_without_conversion_says_which_command_to_run(voc):
    root, _ = voc
    with pytest.raises(FileNotFoundError, match=r"trainaug\.txt does not exist; run `python -m deeplab_edu convert-sbd`"):
        build_dataset("voc_aug", "train", root=root)


def test_reader_works_in_a_dataloader(voc):
    root, _ = voc
    loader = torch.utils.data.DataLoader(build_dataset("voc", "val", root=root), batch_size=2)
    x, y = next(iter(loader))
    assert x.shape == (2, 3, 24, 32) and y.shape == (2, 24, 32)


def test_describe_label_file_shows_indices_and_palette(voc, tmp_path):
    from deeplab_edu.datasets import VOC_PALETTE
    from deeplab_edu.datasets.voc import describe_label_file

    root, written = voc
    label = written["2007_000032"][1]
    info = describe_label_file(root / "SegmentationClass" / "2007_000032.png")
    assert info["mode"] == "P" and info["size"] == (32, 24)
    np.testing.assert_array_equal(info["palette"][:21], VOC_PALETTE[:21])
    values, counts = np.unique(label, return_counts=True)
    assert info["values"] == dict(zip(values.tolist(), counts.tolist()))
    Image.fromarray(np.stack([label] * 3, -1)).save(tmp_path / "rgb.png")
    rgb = describe_label_file(tmp_path / "rgb.png")
    assert rgb["mode"] == "RGB" and rgb["palette"] is None and (255, 255, 255) in rgb["values"]


def test_a_split_file_listing_an_id_twice_is_refused_naming_it(tmp_path):
    from deeplab_edu.datasets.voc import read_split

    split = tmp_path / "train.txt"
    split.write_text("a\nb\n\na\n")
    with pytest.raises(ValueError, match=r"train\.txt lists id 'a' twice \(entries 1 and 3\)"):
        read_split(split)


def test_a_16_bit_image_is_scaled_to_8_bits_with_a_note_not_clipped(tmp_path):
    from deeplab_edu.datasets.voc import read_image

    ramp = np.linspace(0, 65535, 64 * 48).reshape(48, 64).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    with pytest.warns(UserWarning, match=r"deep\.png holds 16-bit values .*scaled to 8 bits"):
        image = read_image(tmp_path / "deep.png")
    assert image.dtype == np.uint8 and image.shape == (48, 64, 3)
    np.testing.assert_array_equal(image[..., 0], np.round(ramp / 257).astype(np.uint8))
    assert (image == 255).mean() < 0.01  # clipping would have made nearly all of it white


def test_an_image_beyond_the_decompression_bomb_limit_is_named(tmp_path, monkeypatch):
    from deeplab_edu.datasets.voc import read_image

    Image.new("RGB", (100, 100)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 10,000 pixels: over twice the limit
    with pytest.raises(ValueError, match=r"big\.png is larger than Pillow's decompression-bomb limit "
                                         r"\(PIL\.Image\.MAX_IMAGE_PIXELS = 1000"):
        read_image(tmp_path / "big.png")


def test_an_image_path_that_is_a_folder_is_said_so(tmp_path):
    from deeplab_edu.datasets.voc import read_image

    with pytest.raises(IsADirectoryError, match="is a folder; expected a JPEG/PNG file"):
        read_image(tmp_path)

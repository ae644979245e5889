"""The built-in offline dataset: deterministic, in VOC layout, with every property a training
chapter's lesson needs."""

import json

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from scipy.spatial import ConvexHull

from deeplab_edu import paths
from deeplab_edu.__main__ import main
from deeplab_edu.datasets import build_dataset, denormalize, ensure_builtin
from deeplab_edu.datasets.synthetic import CLASSES, colour_family, make_scene, scene_seed, write_builtin

SIZE = 160
SCENES = [make_scene(seed, SIZE) for seed in range(60)]


def components(label, cls):
    """(mask, pixel count) of each 4-connected region of class ``cls``."""
    regions, n = ndimage.label(label == cls)
    return [(regions == k, int((regions == k).sum())) for k in range(1, n + 1)]


def hull_ratio(mask):
    """Convex-hull area of the pixel centres over the pixel count: <= ~1 for convex regions."""
    pts = np.argwhere(mask)
    if len(pts) < 3 or np.linalg.matrix_rank(pts - pts[0]) < 2:
        return 0.0
    return ConvexHull(pts).volume / len(pts)


def test_same_seed_same_scene_and_seeds_differ():
    a, b = make_scene(3, 64), make_scene(3, 64)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(make_scene(4, 64)[0], a[0])


def test_shapes_dtypes_and_values():
    for image, label in SCENES[:5]:
        assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8
        assert label.shape == (SIZE, SIZE) and label.dtype == np.uint8
        assert label.max() < len(CLASSES)


def test_concave_outlines_and_holes():
    ring = CLASSES.index("ring")
    holes = [m for _, label in SCENES for m, a in components(label, ring)
             if (ndimage.binary_fill_holes(m) & ~m).any()]
    assert holes, "some ring shows the background through its hole"
    for name in ("crescent", "star"):
        c = CLASSES.index(name)
        ratios = [hull_ratio(m) for _, label in SCENES for m, a in components(label, c) if a >= 60]
        assert ratios and max(ratios) > 1.3, name


def test_colour_alone_does_not_identify_the_class():
    # A hue family is shared by two classes, so colour can at best name the pair (about 1/2
    # within it), never the class.
    # Nearest class-mean colour, fitted on half the scenes, tested on the other half.
    def pixels(scenes):
        x = np.concatenate([im.reshape(-1, 3) for im, _ in scenes]).astype(float)
        y = np.concatenate([lab.ravel() for _, lab in scenes])
        return x[y > 0], y[y > 0]

    x, y = pixels(SCENES[:30])
    means = np.stack([x[y == c].mean(0) for c in range(1, len(CLASSES))])
    x, y = pixels(SCENES[30:])
    guess = 1 + np.argmin(((x[:, None, :] - means[None]) ** 2).sum(-1), 1)
    per_class = [np.mean(guess[y == c] == c) for c in range(1, len(CLASSES)) if (y == c).any()]
    assert np.mean(per_class) < 0.62  # a flat-colour code per class would give ~1


def test_scenes_hold_every_class_one_to_four_objects():
    seen = set(np.unique(np.concatenate([label.ravel() for _, label in SCENES])).tolist())
    assert seen == set(range(len(CLASSES)))
    for _, label in SCENES:
        assert 1 <= len(set(np.unique(label).tolist()) - {0}) <= 4


def test_objects_span_a_tenth_to_most_of_the_frame():
    # Extent of each visible region (the longer side of its bounding box), as a share of the frame.
    extents, areas = [], []
    for _, label in SCENES:
        for c in range(1, len(CLASSES)):
            regions = ndimage.label(label == c)[0]
            for k, box in enumerate(ndimage.find_objects(regions), start=1):
                extents.append(max(box[0].stop - box[0].start, box[1].stop - box[1].start) / SIZE)
                areas.append(int((regions[box] == k).sum()))
    extents, areas = np.array(extents), np.array(areas)
    assert np.median(extents) > 0.2
    assert extents.max() > 0.6
    # Occlusion leaves a few slivers; they hold a negligible share of the object pixels.
    assert areas[extents < 0.05].sum() < 0.005 * areas.sum()


def test_thin_parts_are_at_least_a_few_pixels_wide():
    # Every bar, ring and star region of some size survives a 3x3 erosion (which removes
    # anything at most 2 px wide): thin, but learnable at the label resolution.
    for _, label in SCENES:
        for name in ("stick", "ring", "star"):
            for m, a in components(label, CLASSES.index(name)):
                if a >= 60:
                    assert ndimage.binary_erosion(m, np.ones((3, 3))).sum() >= 0.2 * a, name


def test_boundaries_lie_on_colour_edges():
    # The image gradient is far larger across label boundaries than inside regions: what the
    # CRF's appearance kernel needs to snap coarse scores to the objects.
    on, off = [], []
    for image, label in SCENES:
        grad = np.hypot(*np.gradient(image.astype(float).mean(2)))
        edge = ndimage.morphological_gradient(label, size=3) > 0
        inside = ~ndimage.binary_dilation(edge, iterations=3)
        on.append(grad[edge].mean())
        off.append(grad[inside].mean())
    assert np.median(on) > 4 * np.median(off)


def test_background_is_not_flat_and_objects_occlude():
    spreads = [image[label == 0].astype(float).std(0).mean() for image, label in SCENES if (label == 0).sum() > 500]
    assert np.median(spreads) > 8  # the sensor noise alone is 4
    convex = [CLASSES.index(n) for n in ("disc", "square", "triangle")]
    assert [m for _, label in SCENES for c in convex for m, a in components(label, c)
            if a >= 50 and hull_ratio(m) > 1.2]


@pytest.mark.parametrize("kwargs, message", [
    ({"seed": -1, "size": 64}, r"seed must be a non-negative integer, got -1"),
    ({"seed": 1.5, "size": 64}, r"seed must be a non-negative integer, got 1\.5"),
    ({"seed": 0, "size": 8}, r"size must be an integer >= 16 \(pixels per side\), got 8"),
    ({"seed": 0, "size": True}, r"size must be an integer >= 16"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_scene(**kwargs)


def test_written_set_is_the_generator_in_voc_layout(tmp_path):
    root = write_builtin(tmp_path / "b", train=3, val=2, size=48, seed=5, progress=False)
    meta = json.loads((root / "builtin.json").read_text())
    assert meta["classes"] == list(CLASSES) and (meta["train"], meta["val"], meta["size"]) == (3, 2, 48)
    ds = build_dataset("builtin", "val", root=root)
    assert ds.ids == ["val_000000", "val_000001"] and ds.class_names == CLASSES
    assert build_dataset("builtin", "trainval", root=root).ids[:3] == ["train_000000", "train_000001", "train_000002"]
    png = Image.open(root / "SegmentationClass" / "val_000001.png")
    assert png.mode == "P"  # indices with the VOC palette, exactly like VOC's label files
    image, label = make_scene(scene_seed(5, "val", 1), 48)
    x, y = ds[1]
    np.testing.assert_array_equal(y.numpy(), label)
    assert np.abs(denormalize(x).astype(int) - image.astype(int)).mean() < 6  # JPEG quality 92


def test_train_and_val_never_share_a_scene():
    train = {scene_seed(0, "train", i) for i in range(1000)}
    val = {scene_seed(0, "val", i) for i in range(1000)}
    assert not train & val
    assert not {scene_seed(1, "train", i) for i in range(1000)} & (train | val)


def test_make_data_command(tmp_path, capsys):
    out = tmp_path / "set"
    assert main(["make-data", "--root", str(out), "--train", "2", "--val", "1", "--size", "32",
                 "--seed", "3", "--holdout", "2", "--no-progress"]) == 0
    assert "wrote 2 train + 1 val images of 32x32 (seed 3)" in capsys.readouterr().out
    names = sorted(p.stem for p in (out / "JPEGImages").glob("*.jpg"))
    assert names == ["holdout_000000", "holdout_000001", "train_000000", "train_000001", "val_000000"]
    assert (out / "ImageSets" / "Segmentation" / "trainval.txt").read_text().split() == \
        ["train_000000", "train_000001", "val_000000"]


def test_make_data_defaults_come_from_the_profile(monkeypatch):
    from deeplab_edu.__main__ import build_parser
    from deeplab_edu.profiles import get_profile

    monkeypatch.setenv("DEEPLAB_EDU_PROFILE", "smoke")
    args = build_parser("make-data").parse_args(["make-data"])
    p = get_profile("smoke")
    assert (args.train, args.val, args.size, args.seed) == (p.train_images, p.val_images, p.image_size, 0)


def test_missing_builtin_is_generated_with_profile_sizes(tmp_path, monkeypatch):
    from deeplab_edu.profiles import get_profile

    monkeypatch.setenv("DEEPLAB_EDU_PROFILE", "smoke")
    monkeypatch.setenv("DEEPLAB_EDU_BUILTIN", str(tmp_path / "auto"))
    ds = build_dataset("builtin", "train")
    p = get_profile("smoke")
    assert len(ds) == p.train_images and ds[0][1].shape == (p.image_size, p.image_size)
    assert ensure_builtin() == tmp_path / "auto" / "smoke"  # one folder per profile: data/builtin/<profile>


def test_a_builtin_set_of_other_sizes_is_used_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPLAB_EDU_PROFILE", "smoke")
    monkeypatch.setenv("DEEPLAB_EDU_BUILTIN", str(tmp_path / "b"))
    root = write_builtin(tmp_path / "b" / "smoke", train=3, val=2, size=40, progress=False)
    with pytest.warns(UserWarning, match=r"3 \+ 2 images at 40px.*smoke profile.*make-data --root"):
        ds = build_dataset("builtin", "train")
    assert len(ds) == 3
    build_dataset("builtin", "train", root=root)  # a folder the caller chose: no warning


def test_corrupt_builtin_metadata_names_the_file(tmp_path):
    root = write_builtin(tmp_path / "b", train=1, val=1, size=32, progress=False)
    (root / "builtin.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"builtin\.json is corrupt .*expected JSON with a 'classes' list"):
        build_dataset("builtin", "train", root=root)


def test_committed_sample_matches_the_generator():
    # If the generator changes, data/sample must be regenerated (see data/README.md).
    root = paths.sample_root()
    meta = json.loads((root / "builtin.json").read_text())
    ds = build_dataset("sample", "train")
    assert len(ds) == meta["train"] and ds.class_names == CLASSES
    for k in (0, len(ds) - 1):
        _, label = make_scene(scene_seed(meta["seed"], "train", k), meta["size"])
        np.testing.assert_array_equal(ds[k][1].numpy(), label)


def test_scene_statistics_agree_with_counting_by_hand():
    from deeplab_edu.datasets.synthetic import scene_statistics

    stats = scene_statistics(range(5), 48)
    labels = [make_scene(s, 48)[1] for s in range(5)]
    for c in range(len(CLASSES)):
        expected = sum((lab == c).sum() for lab in labels) / (5 * 48 * 48)
        assert abs(stats["pixel_fraction"][c] - expected) < 1e-12
    # Every object pixel belongs to exactly one region.
    assert stats["region_area"].sum() == sum((lab > 0).sum() for lab in labels)
    for c in range(1, len(CLASSES)):
        by_hand = sorted(a for lab in labels for _, a in components(lab, c))
        assert sorted(stats["region_area"][stats["region_class"] == c].tolist()) == by_hand


def test_training_chapters_use_voc_when_it_is_on_disk_else_the_profiles_builtin_set(tmp_path, monkeypatch):
    from deeplab_edu.datasets import default_training_data

    monkeypatch.setenv("DEEPLAB_EDU_BUILTIN", str(tmp_path / "builtin"))
    monkeypatch.setenv("DEEPLAB_EDU_VOC", str(tmp_path / "VOC2012"))
    assert default_training_data("laptop") == ("builtin", str(tmp_path / "builtin" / "laptop"))
    (tmp_path / "VOC2012").mkdir()
    assert default_training_data("laptop") == ("voc_aug", None)


def test_colour_family_names_the_classes_only_shape_tells_apart():
    assert colour_family("crescent") == ["star"]
    assert colour_family("stick") == []
    with pytest.raises(ValueError, match="no hue family"):
        colour_family("background")
    with pytest.raises(ValueError, match="'cat' is not one of"):
        colour_family("cat")

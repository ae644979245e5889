"""SBD's MATLAB labels and the trainaug split, on tiny SBD/VOC trees the tests write."""

import numpy as np
import pytest
import scipy.io
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets_cases import make_sbd, make_voc, save_gtcls
from deeplab_edu.__main__ import main
from deeplab_edu.datasets import build_dataset
from deeplab_edu.datasets.sbd import read_sbd_label
from deeplab_edu.datasets.trainaug import build_trainaug, trainaug_ids
from deeplab_edu.datasets.voc import read_label

VOC_SPLITS = {"train": ["a1", "a2", "s1"], "val": ["v1", "v2"]}
VOC_SPLITS["trainval"] = VOC_SPLITS["train"] + VOC_SPLITS["val"]
# SBD shares s1 with VOC train and v1 with VOC val; s2..s4 are SBD-only.
SBD_SPLITS = {"train": ["s1", "s2", "v1"], "val": ["s3", "s4"]}


@pytest.fixture
def trees(tmp_path):
    voc_root, sbd_root = tmp_path / "VOC2012", tmp_path / "sbd"
    voc = make_voc(voc_root, VOC_SPLITS)
    sbd = make_sbd(sbd_root, SBD_SPLITS)
    for image_id, (image, _) in sbd.items():  # SBD's photos are VOC's photos
        if image_id not in voc:
            (voc_root / "JPEGImages" / f"{image_id}.jpg").write_bytes((sbd_root / "img" / f"{image_id}.jpg").read_bytes())
    return voc_root, sbd_root, voc, sbd


def test_matlab_struct_is_read_as_class_indices(tmp_path):
    seg = np.arange(12, dtype=np.uint8).reshape(3, 4) % 21
    save_gtcls(tmp_path / "x.mat", seg)
    # The file really is a MATLAB struct with fields, as SBD ships it.
    raw = scipy.io.loadmat(tmp_path / "x.mat", squeeze_me=True, struct_as_record=False)["GTcls"]
    assert {"Boundaries", "Segmentation", "CategoriesPresent"} <= set(raw._fieldnames)
    out = read_sbd_label(tmp_path / "x.mat")
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, seg)


def test_mat_without_gtcls_names_file_and_what_was_found(tmp_path):
    scipy.io.savemat(tmp_path / "x.mat", {"GTinst": {"Segmentation": np.zeros((2, 2), np.uint8)}})
    with pytest.raises(ValueError, match=r"x\.mat has no variable 'GTcls' \(found \['GTinst'\]\); expected a struct GTcls"):
        read_sbd_label(tmp_path / "x.mat")


def test_gtcls_without_segmentation_names_the_field(tmp_path):
    scipy.io.savemat(tmp_path / "x.mat", {"GTcls": {"Boundaries": np.zeros((2, 2))}})
    with pytest.raises(ValueError, match=r"x\.mat: GTcls has no field 'Segmentation'"):
        read_sbd_label(tmp_path / "x.mat")


def test_corrupt_mat_names_the_file(tmp_path):
    (tmp_path / "x.mat").write_bytes(b"MATLAB 5.0 MAT-file, but then garbage")
    with pytest.raises(ValueError, match=r"SBD label file .*x\.mat is corrupt or not a MATLAB \.mat file"):
        read_sbd_label(tmp_path / "x.mat")


def test_sbd_label_outside_classes_is_refused(tmp_path):
    save_gtcls(tmp_path / "x.mat", np.full((3, 3), 30, np.uint8))
    with pytest.raises(ValueError, match=r"x\.mat holds values \[30\] outside the expected 0\.\.20"):
        read_sbd_label(tmp_path / "x.mat")


def test_sbd_segmentation_that_is_not_a_map_is_refused(tmp_path):
    save_gtcls(tmp_path / "x.mat", np.zeros((2, 3, 4), np.uint8))
    with pytest.raises(ValueError, match=r"x\.mat: GTcls\.Segmentation is uint8 of shape \(2, 3, 4\); expected a 2-D"):
        read_sbd_label(tmp_path / "x.mat")


def test_missing_mat_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"SBD label file .*nope\.mat does not exist"):
        read_sbd_label(tmp_path / "nope.mat")


ids = st.lists(st.sampled_from([f"{y}_{n:06d}" for y in (2007, 2008) for n in range(12)]), max_size=12)


@settings(max_examples=50, deadline=None)
@given(ids, ids, ids, ids)
def test_trainaug_is_the_union_minus_voc_val(voc_train, voc_val, sbd_train, sbd_val):
    out = trainaug_ids(voc_train, voc_val, sbd_train, sbd_val)
    assert out == sorted(set(out)), "sorted, no duplicates"
    for i in out:  # every id comes from a training list and never from VOC val
        assert i in voc_train or i in sbd_train or i in sbd_val
        assert i not in voc_val
    for i in set(voc_train) | set(sbd_train) | set(sbd_val):
        assert (i in out) == (i not in voc_val)


def test_build_trainaug_writes_labels_and_split(trees):
    voc_root, sbd_root, voc, sbd = trees
    ids = build_trainaug(voc_root, sbd_root, progress=False)
    assert ids == ["a1", "a2", "s1", "s2", "s3", "s4"]  # v1 is VOC val: never trained on
    listed = (voc_root / "ImageSets" / "Segmentation" / "trainaug.txt").read_text().split()
    assert listed == ids
    for i in ids:  # VOC's own label where it has one, SBD's otherwise
        expected = voc[i][1] if i in voc else sbd[i][1]
        np.testing.assert_array_equal(read_label(voc_root / "SegmentationClassAug" / f"{i}.png", 21), expected)
    ds = build_dataset("voc_aug", "train", root=voc_root)
    assert ds.ids == ids and ds.label_dir.name == "SegmentationClassAug"
    np.testing.assert_array_equal(ds[ids.index("s4")][1].numpy(), sbd["s4"][1])
    assert build_dataset("voc_aug", "val", root=voc_root).ids == VOC_SPLITS["val"]


def test_build_trainaug_converts_once(trees):
    voc_root, sbd_root, _, _ = trees
    build_trainaug(voc_root, sbd_root, progress=False)
    (sbd_root / "cls" / "s2.mat").write_bytes(b"broken after conversion")
    build_trainaug(voc_root, sbd_root, progress=False)  # existing PNGs are kept, the .mat not reread
    with pytest.raises(ValueError, match=r"s2\.mat is corrupt"):
        build_trainaug(voc_root, sbd_root, force=True, progress=False)


def test_trainaug_id_without_a_voc_image_is_named(trees):
    voc_root, sbd_root, _, _ = trees
    (voc_root / "JPEGImages" / "s3.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"trainaug id 's3' has no image .*JPEGImages/s3\.jpg"):
        build_trainaug(voc_root, sbd_root, progress=False)


def test_convert_sbd_command(trees, capsys):
    voc_root, sbd_root, _, _ = trees
    assert main(["convert-sbd", "--voc", str(voc_root), "--sbd", str(sbd_root), "--no-progress"]) == 0
    assert "trainaug: 6 images" in capsys.readouterr().out
    assert len(list((voc_root / "SegmentationClassAug").glob("*.png"))) == 6


def test_published_sizes_are_consistent():
    from deeplab_edu.datasets.trainaug import PUBLISHED_SIZES as n

    # trainaug removes at most VOC val from the union, and the union is at least its largest list.
    union_max = n["VOC 2012 train"] + n["SBD train"] + n["SBD val"]
    assert n["SBD train"] + n["SBD val"] - n["VOC 2012 val"] <= n["trainaug"] <= union_max


def test_build_trainaug_rewrites_a_truncated_label_and_writes_atomically(trees):
    """A PNG cut short by a killed run must not survive a second run reported as success."""
    voc_root, sbd_root, _, sbd = trees
    build_trainaug(voc_root, sbd_root, progress=False)
    label = voc_root / "SegmentationClassAug" / "s4.png"
    label.write_bytes(label.read_bytes()[: len(label.read_bytes()) // 2])  # killed mid-write
    build_trainaug(voc_root, sbd_root, progress=False)
    np.testing.assert_array_equal(read_label(label, 21), sbd["s4"][1])
    assert not list((voc_root / "SegmentationClassAug").glob(".*.tmp"))


def test_an_sbd_label_of_another_size_than_its_image_is_refused_naming_the_id(trees):
    voc_root, sbd_root, _, _ = trees
    save_gtcls(sbd_root / "cls" / "s2.mat", np.zeros((30, 30), dtype=np.uint8))  # the image is 32x24
    with pytest.raises(ValueError, match=r"SBD label .*s2\.mat of id 's2' is 30x30 but its VOC image is 32x24"):
        build_trainaug(voc_root, sbd_root, progress=False)
    assert not (voc_root / "SegmentationClassAug" / "s2.png").exists()

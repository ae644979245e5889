"""Evaluation: whole-image padding, multi-scale + flip, one confusion matrix, CRF on saved scores."""

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deeplab_edu.crf import CRFParams
from deeplab_edu.datasets import build_dataset
from deeplab_edu.datasets.synthetic import write_builtin
from deeplab_edu.evaluate import crf_evaluate, evaluate, load_scores, pad_to_stride, predict_probs
from deeplab_edu.metrics import confusion_matrix_loops
from deeplab_edu.models import build_model


@pytest.fixture(scope="module")
def val_set(tmp_path_factory):
    root = write_builtin(tmp_path_factory.mktemp("builtin"), train=0, val=3, size=37, progress=False)
    return build_dataset("builtin", "val", root=root)


def tiny(name="deeplabv3", **options):
    torch.manual_seed(0)
    model = build_model(name, 8, width=0.125, **({"blocks": (1, 1, 1, 1)} if name != "deeplabv1" else {}),
                        **options)
    return model.eval()


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 70), w=st.integers(1, 70), stride=st.sampled_from([4, 8, 16]))
def test_padding_reaches_the_smallest_stride_k_plus_one(h, w, stride):
    images = torch.randn(1, 3, h, w)
    padded = pad_to_stride(images, stride)
    H, W = padded.shape[-2:]
    for original, size in ((h, H), (w, W)):
        assert size >= original and (size - 1) % stride == 0 and size - stride < max(original, 2)
    assert torch.equal(padded[..., :h, :w], images)
    assert padded[..., h:, :].abs().sum() == 0 and padded[..., :, w:].abs().sum() == 0


def test_pad_to_stride_refuses_bad_strides():
    with pytest.raises(ValueError, match="output_stride"):
        pad_to_stride(torch.zeros(1, 3, 5, 5), 0)


def test_single_scale_is_the_softmax_of_the_padded_image_cropped_back():
    model = tiny()
    x = torch.randn(1, 3, 30, 23)
    expected = model(pad_to_stride(x, 16))[..., :30, :23].softmax(1)
    probs = predict_probs(model, x)
    torch.testing.assert_close(probs, expected)
    torch.testing.assert_close(probs.sum(1), torch.ones(1, 30, 23))


def test_flip_inference_is_mirror_equivariant_and_scales_average():
    model = tiny()
    # 33 × 49 = (16·2+1) × (16·3+1) needs no padding, so the flipped pass must be mirrored back
    # exactly: the flip-averaged map of the mirrored image is the mirrored flip-averaged map.
    x = torch.randn(1, 3, 33, 49)
    a = predict_probs(model, x, flip=True)
    b = predict_probs(model, x.flip(-1), flip=True).flip(-1)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(a, predict_probs(model, x), atol=1e-4)  # the flip did contribute
    single = [predict_probs(model, x, scales=(s,)) for s in (0.75, 1.0)]
    torch.testing.assert_close(predict_probs(model, x, scales=(0.75, 1.0)), (single[0] + single[1]) / 2)
    with pytest.raises(ValueError, match="scales"):
        predict_probs(model, x, scales=(0.0,))


def test_evaluate_accumulates_one_confusion_matrix_over_whole_images(val_set, tmp_path):
    model = tiny("deeplabv1")
    result = evaluate(model, val_set, trimap_widths=(2,), scores_dir=tmp_path, progress=False)
    expected = np.zeros((8, 8), dtype=np.int64)
    for i in range(len(val_set)):
        image, label = val_set[i]
        logits = model(pad_to_stride(image[None], 8))[0, :, :37, :37]
        expected += confusion_matrix_loops(logits.argmax(0), label, 8)
    np.testing.assert_array_equal(result.confusion.matrix, expected)
    assert result.confusion.matrix.sum() == 3 * 37 * 37  # every pixel of every whole image
    summary = result.summary()
    assert set(summary) == {"mIoU", "pixel_acc", "mean_acc", "fwIoU", "trimap_2px"}
    saved = sorted(p.stem for p in Path(tmp_path).glob("*.npy"))
    assert saved == sorted(val_set.ids)
    probs = np.load(tmp_path / f"{val_set.ids[0]}.npy")
    assert probs.dtype == np.float16 and probs.shape == (8, 37, 37)


@pytest.mark.parametrize("method", ["lattice", "pydensecrf"])
@pytest.mark.slow
def test_crf_on_saved_scores_is_independent_of_workers_and_zero_iterations_changes_nothing(
        val_set, tmp_path, method):
    evaluate(tiny("deeplabv1"), val_set, trimap_widths=(), scores_dir=tmp_path, progress=False)
    params = CRFParams(iterations=3)
    runs = {workers: crf_evaluate(val_set, tmp_path, params, method, workers=workers, trimap_widths=(2,),
                                  progress=False, device="cpu" if method == "lattice" else None)
            for workers in (1, 2)}
    (before1, after1), (before2, after2) = runs[1], runs[2]
    np.testing.assert_array_equal(after1.confusion.matrix, after2.confusion.matrix)
    np.testing.assert_array_equal(before1.confusion.matrix, before2.confusion.matrix)
    assert after1.trimap.accuracy() == after2.trimap.accuracy()
    before0, after0 = crf_evaluate(val_set, tmp_path, params.replace(iterations=0), method, progress=False)
    np.testing.assert_array_equal(before0.confusion.matrix, after0.confusion.matrix)


def test_the_lattice_crf_step_agrees_with_pydensecrf(val_set, tmp_path):
    evaluate(tiny("deeplabv1"), val_set, trimap_widths=(), scores_dir=tmp_path, progress=False)
    params = CRFParams(w1=4, sigma_alpha=10, sigma_beta=5, iterations=5)
    _, lattice = crf_evaluate(val_set, tmp_path, params, "lattice", workers=1, progress=False)
    _, reference = crf_evaluate(val_set, tmp_path, params, "pydensecrf", workers=1, progress=False)
    agree = np.trace(lattice.confusion.matrix) / lattice.confusion.matrix.sum()
    assert abs(agree - np.trace(reference.confusion.matrix) / reference.confusion.matrix.sum()) < 0.01
    assert abs(lattice.confusion.miou() - reference.confusion.miou()) < 0.01


def test_a_gpu_crf_step_runs_in_one_process(tmp_path):
    with pytest.raises(ValueError, match="on a GPU the CRF runs in one process"):
        crf_evaluate(None, tmp_path, method="lattice", workers=2, device="cuda")
    with pytest.raises(ValueError, match="'pydensecrf' runs on the CPU"):
        crf_evaluate(None, tmp_path, method="pydensecrf", workers=1, device="cuda")


def test_missing_or_corrupt_scores_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"img7\.npy.*--save-scores"):
        load_scores(tmp_path, "img7", (4, 4))
    np.save(tmp_path / "img8.npy", np.ones((2, 3, 3), np.float16) / 2)
    with pytest.raises(ValueError, match=r"img8\.npy.*shape"):
        load_scores(tmp_path, "img8", (4, 4))
    (tmp_path / "img9.npy").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match=r"img9\.npy.*corrupt"):
        load_scores(tmp_path, "img9", (4, 4))
    with pytest.raises(ValueError, match="workers"):
        crf_evaluate(None, tmp_path, workers=0)


def test_results_table_formats_floats_times_and_missing_values():
    from deeplab_edu.evaluate import format_results_table

    rows = [{"run": "v1", "mIoU": 0.51234, "mIoU +CRF": 0.6, "train s": 1.54, "device": "cpu"},
            {"run": "no crf", "mIoU": 0.5, "mIoU +CRF": float("nan")}]
    lines = format_results_table(rows).splitlines()
    assert lines[0] == "| run | mIoU | mIoU +CRF | train s | device |" and lines[1] == "|---|---|---|---|---|"
    assert lines[2] == "| v1 | 0.512 | 0.600 | 1.5 | cpu |"
    assert lines[3] == "| no crf | 0.500 | — |  |  |"

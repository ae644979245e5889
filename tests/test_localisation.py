"""Invariance against localisation: score maps per position, strides rebuilt, peaks tracked."""

import matplotlib
import numpy as np
import pytest
import torch

from deeplab_edu.backbones.resnet import ResNet
from deeplab_edu.datasets.synthetic import make_object_image
from deeplab_edu.localisation import (class_score_map, peak_column, place_object, shift_study,
                                      with_output_stride)
from deeplab_edu.pretrain import (SHIPPED_DIR, Classifier, PretrainConfig, load_classifier, normalize_batch,
                                  weights_name)


def small_classifier() -> Classifier:
    torch.manual_seed(0)
    return Classifier(ResNet(output_stride=32, width=0.125, blocks=(1, 1, 1, 1))).eval()


def test_score_map_mean_is_the_classifiers_logits():
    # fc is linear and so is the mean: fc applied per position, then averaged == the classifier.
    model = small_classifier()
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        scores = class_score_map(model.backbone, model.fc, x)
        assert scores.shape == (2, model.fc.out_features, 3, 3)
        assert torch.allclose(scores.mean(dim=(2, 3)), model(x), atol=1e-5)


@pytest.mark.parametrize("stride", [16, 8])
def test_with_output_stride_keeps_the_weights_and_the_sparse_values(stride):
    model = small_classifier()
    dense = with_output_stride(model.backbone, stride)
    assert not dense.training
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(dense.state_dict()[key], value), key
    x = torch.randn(1, 3, 97, 97)
    with torch.no_grad():
        sparse_out, dense_out = model.backbone(x)["out"], dense(x)["out"]
    step = 32 // stride
    assert dense_out.shape[-1] == (sparse_out.shape[-1] - 1) * step + 1
    assert torch.allclose(dense_out[..., ::step, ::step], sparse_out, rtol=1e-4, atol=1e-5)


def test_place_object_moves_only_the_image():
    image = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    left, right = place_object(image, 10, 0), place_object(image, 10, 2)
    assert left.shape == (10, 10, 3) and left.dtype == np.uint8
    assert np.array_equal(left[3:7, 3:7], image) and np.array_equal(right[3:7, 5:9], image)
    assert np.array_equal(left[0, 0], right[0, 0])  # the same frame colour
    with pytest.raises(ValueError, match="does not fit"):
        place_object(image, 10, 4)


def test_peak_column_is_the_centre_of_the_highest_cell():
    scores = np.zeros((2, 4))
    scores[1, 2] = 1.0
    assert peak_column(scores, 32) == 32 * 2 + 15.5
    assert peak_column(torch.from_numpy(scores), 8) == 8 * 2 + 3.5


def test_shift_study_on_a_synthetic_map_follows_quantisation():
    # A backbone-free check of the bookkeeping: a "network" whose single feature is the input's
    # first channel, so the score map is the image itself, pooled by the stride.
    class Pool(torch.nn.Module):
        def __init__(self, stride):
            super().__init__()
            self.stride = stride

        def forward(self, x):
            return {"out": torch.nn.functional.avg_pool2d(x[:, :1], self.stride)}

    fc = torch.nn.Linear(1, 1)
    with torch.no_grad():
        fc.weight.fill_(1.0)
        fc.bias.zero_()
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    image[2:6, 2:6] = 255
    x = torch.from_numpy(np.stack([place_object(image, 64, s) for s in (0, 8, 16)])).permute(0, 3, 1, 2).float()
    coarse, fine = class_score_map(Pool(32), fc, x)[:, 0], class_score_map(Pool(8), fc, x)[:, 0]
    assert [peak_column(m, 32) for m in coarse] == [15.5, 47.5, 47.5]
    assert [peak_column(m, 8) for m in fine] == [27.5, 35.5, 43.5]


def test_shift_study_with_the_shipped_classifier():
    path = SHIPPED_DIR / weights_name("resnet", 0.25, (1, 1, 1, 1))
    if not path.is_file():
        pytest.skip("the shipped ResNet classifier is not in data/pretrained/")
    model = load_classifier(path, PretrainConfig(backbone="resnet")).eval()
    image, cls = make_object_image(1, 64)
    study = shift_study(model.backbone, model.fc, image, cls - 1, range(0, 33, 4), normalize_batch)
    assert study.maps[32].shape == (9, 4, 4) and study.maps[8].shape == (9, 16, 16)
    # Stride 32: the peak moves only in steps of 32; stride 8: in steps of 8, closer to the object.
    assert set(np.unique(study.displacement(32) % 32)) == {0.0}
    assert set(np.unique(study.displacement(8) % 8)) == {0.0}
    assert study.tracking_error(8).mean() < study.tracking_error(32).mean()
    assert study.tracking_error(8).max() <= 8
    with pytest.raises(ValueError, match="class_index"):
        shift_study(model.backbone, model.fc, image, 99, [0], normalize_batch)
    with pytest.raises(ValueError, match=r"shifts must be integers, got \[\]"):
        shift_study(model.backbone, model.fc, image, 0, [], normalize_batch)


def test_plot_shift_study_draws_every_panel():
    from deeplab_edu.viz.localisation import plot_shift_study

    model = small_classifier()
    image = np.full((32, 32, 3), 200, dtype=np.uint8)
    study = shift_study(model.backbone, model.fc, image, 0, [0, 8, 16], lambda x: x.float() / 255, canvas=64)
    figure = plot_shift_study(study, image, [0, 16], canvas=64, class_name="disc")
    # 2 shifts × (input + 2 strides) panels, 2 colour bars, the displacement plot.
    assert len(figure.axes) == 2 * 3 + 2 + 1
    matplotlib.pyplot.close(figure)

"""CRF-as-RNN (Zheng et al. 2015): mean-field as a differentiable layer, held against the
lattice mean-field, checked by gradcheck, and shown to learn."""

import copy

import pytest
import torch
from torch import nn
from torch.func import functional_call

from deeplab_edu.crf import CRFParams
from deeplab_edu.crf.crf_rnn import CRFasRNN
from deeplab_edu.models import CRFRNNSegmenter, SegmentationModel
from deeplab_edu.crf.lattice_meanfield import lattice_mean_field
from deeplab_edu.runtime import seed_everything

SMALL = CRFParams(w1=4, sigma_alpha=3, sigma_beta=20, w2=3, sigma_gamma=1, iterations=3)


def _inputs(batch=2, classes=3, h=5, w=6, seed=0, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    image = torch.randint(0, 256, (batch, 3, h, w), generator=generator).float()
    scores = torch.randn(batch, classes, h, w, generator=generator, dtype=dtype)
    return scores, image


@pytest.mark.slow
def test_scalar_gradcheck_through_unaries_weights_and_compatibility():
    scores, image = _inputs()
    crf = CRFasRNN(3, SMALL, kernels="scalar").double()
    params = {name: p.detach().clone().requires_grad_() for name, p in crf.named_parameters()}
    assert set(params) == {"kernel_weights", "compatibility"}

    def layer(scores, weights, compatibility):
        return functional_call(crf, {"kernel_weights": weights, "compatibility": compatibility},
                               (scores, image))

    inputs = (scores.requires_grad_(), params["kernel_weights"], params["compatibility"])
    assert torch.autograd.gradcheck(layer, inputs)


@pytest.mark.parametrize("learn_compatibility", [True, False])
@pytest.mark.parametrize("convention", ["densecrf", "paper"])
def test_untrained_scalar_layer_is_the_lattice_meanfield(learn_compatibility, convention):
    # μ initialised to Potts [l ≠ l'] differs from the Potts shortcut by Σ_l' m(l'), the same for
    # every label, which the softmax removes: both must give the mean-field's Q.
    scores, image = _inputs(seed=1)
    crf = CRFasRNN(3, SMALL, kernels="scalar", learn_compatibility=learn_compatibility,
                   convention=convention).double()
    q = crf(scores, image).softmax(1)
    torch.testing.assert_close(q, lattice_mean_field(-scores, image, SMALL, convention))


@pytest.mark.slow
def test_matrix_gradcheck_through_unaries_kernel_matrices_and_compatibility():
    scores, image = _inputs()
    crf = CRFasRNN(3, SMALL).double()
    params = {name: p.detach().clone().requires_grad_() for name, p in crf.named_parameters()}
    assert set(params) == {"bilateral_ker_weights", "spatial_ker_weights", "compatibility"}
    assert all(p.shape == (3, 3) for p in params.values())
    names = sorted(params)

    def layer(scores, *tensors):
        return functional_call(crf, dict(zip(names, tensors)), (scores, image))

    assert torch.autograd.gradcheck(layer, (scores.requires_grad_(), *(params[n] for n in names)))


def test_matrix_layer_is_zheng_et_al_update():
    # One iteration written out as in crfasrnn_keras' CrfRnnLayer2D.call:
    # Ǔ = U − μ (W_s · spatial/norm + W_b · bilateral/norm), every weight a (C×C) matrix.
    from deeplab_edu.crf.crf_rnn import _NormalisedFilters

    scores, image = _inputs(batch=1, seed=3)
    params = SMALL.replace(iterations=1)
    crf = CRFasRNN(3, params).double()
    torch.manual_seed(0)
    with torch.no_grad():
        for p in crf.parameters():
            p.add_(0.3 * torch.randn_like(p))  # away from the diagonal start
    u = scores.permute(0, 2, 3, 1).reshape(1, -1, 3)
    bilateral, spatial = _NormalisedFilters(image, params, torch.float64)(u.softmax(-1))
    message = spatial @ crf.spatial_ker_weights.T + bilateral @ crf.bilateral_ker_weights.T
    expected = (u - message @ crf.compatibility.T).reshape(1, 5, 6, 3).permute(0, 3, 1, 2)
    torch.testing.assert_close(crf(scores, image), expected)


def test_filters_are_row_normalised_lattice_filters():
    # Σ_j k(i, j) v_j / Σ_j k(i, j), the pixel itself included (D⁻¹K), with k the permutohedral
    # lattice's kernel (written out point by point in permutohedral_filter_reference).
    import numpy as np

    from deeplab_edu.crf.crf_rnn import _NormalisedFilters
    from deeplab_edu.crf.permutohedral import (bilateral_features, permutohedral_filter_reference,
                                               spatial_features)

    _, image = _inputs(batch=1, seed=4, h=6, w=7)
    params = CRFParams(sigma_alpha=6, sigma_beta=40, sigma_gamma=3)
    values = torch.rand(1, 42, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    bilateral, spatial = _NormalisedFilters(image, params, torch.float64)(values)
    for got, features in ((spatial, spatial_features(1, 6, 7, 3.0)),
                          (bilateral, bilateral_features(image, 6.0, 40.0))):
        f = features[0].double().numpy()
        expected = (permutohedral_filter_reference(f, values[0].numpy())
                    / permutohedral_filter_reference(f, np.ones((42, 1))))
        np.testing.assert_allclose(got[0].numpy(), expected, rtol=1e-6, atol=1e-9)


def test_matrix_layer_with_diagonal_weights_and_a_fixed_potts_mu_equals_a_learned_potts_mu():
    scores, image = _inputs(seed=2)
    learned = CRFasRNN(3, SMALL).double()
    fixed = CRFasRNN(3, SMALL, learn_compatibility=False).double()
    torch.testing.assert_close(learned(scores, image).softmax(1), fixed(scores, image).softmax(1))


@pytest.mark.parametrize("kernels", ["matrix", "scalar"])
def test_shapes_and_dtypes(kernels):
    crf = CRFasRNN(4, SMALL, kernels=kernels)
    scores, image = _inputs(batch=3, classes=4, h=7, w=5, dtype=torch.float32)
    out = crf(scores, image)
    assert out.shape == (3, 4, 7, 5) and out.dtype == torch.float32


def test_trains_with_t_iterations_and_tests_with_test_iterations():
    # Zheng et al. §6: T = 5 in training, T = 10 at test; the mode alone picks the count.
    scores, image = _inputs()
    crf = CRFasRNN(3, SMALL, test_iterations=7).double()
    assert (crf.iterations, crf.test_iterations) == (3, 7)
    train_out = crf.train()(scores, image)
    test_out = crf.eval()(scores, image)
    torch.testing.assert_close(train_out, crf(scores, image, iterations=3))
    torch.testing.assert_close(test_out, crf(scores, image, iterations=7))
    assert not torch.allclose(train_out, test_out)
    assert CRFasRNN(3, SMALL).test_iterations == 3  # unset: as many as in training


def test_the_layer_trains_under_a_bf16_autocast_in_float32():
    # The network may run in bf16 (the laptop profile on CPUs with native bf16); the layer must not.
    scores, image = _inputs(dtype=torch.float32)
    crf = CRFasRNN(3, SMALL)
    expected = crf(scores, image)
    leaf = scores.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = crf(leaf.to(torch.bfloat16), image)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), expected, atol=0.1, rtol=0.02)
    out.float().sum().backward()
    assert leaf.grad is not None and torch.isfinite(leaf.grad).all()


def test_zero_iterations_pass_the_scores_through():
    scores, image = _inputs()
    crf = CRFasRNN(3, SMALL).double()
    torch.testing.assert_close(crf(scores, image, iterations=0), scores)


def test_learning_through_the_scalar_crf_lowers_the_loss():
    # Noisy scores around a two-region truth: training only w1, w2 and μ must reduce the
    # cross-entropy of the CRF's output (the CRF learns to trust the smoothing).
    seed_everything(0)
    h = w = 12
    target = torch.zeros(1, h, w, dtype=torch.long)
    target[:, :, w // 2:] = 1
    image = (target[:, None].float() * 180 + 40).expand(1, 3, h, w).contiguous()
    scores = 2 * nn.functional.one_hot(target, 2).permute(0, 3, 1, 2).float() + 1.5 * torch.randn(1, 2, h, w)
    crf = CRFasRNN(2, CRFParams(w1=0.5, sigma_alpha=5, sigma_beta=20, w2=0.5, sigma_gamma=1, iterations=5),
                   kernels="scalar")
    optimiser = torch.optim.Adam(crf.parameters(), lr=0.1)
    losses = []
    for _ in range(20):
        loss = nn.functional.cross_entropy(crf(scores, image), target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]
    assert (crf.kernel_weights > 0.5).all()  # it learned to trust the smoothing more
    assert not torch.equal(crf.compatibility.detach(), 1 - torch.eye(2))


class _Tiny(SegmentationModel):
    output_stride = score_stride = 1
    num_classes = 3

    def __init__(self):
        super().__init__()
        self.backbone = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Conv2d(4, 3, 1)

    def forward_scores(self, x):
        return self.head(torch.relu(self.backbone(x)))


def test_segmenter_trains_model_and_crf_end_to_end():
    seed_everything(0)
    model = CRFRNNSegmenter(_Tiny(), CRFasRNN(3, SMALL), to_rgb=lambda x: (x * 64 + 128).clamp(0, 255))
    x = torch.randn(2, 3, 9, 10)
    target = torch.randint(0, 3, (2, 9, 10))
    loss = nn.functional.cross_entropy(model(x), target)
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name
    groups = model.parameter_groups()
    assert set(groups) == {"backbone", "head", "crf"}
    assert sum(len(g) for g in groups.values()) == len(list(model.parameters()))
    assert model.output_stride == 1 and model.num_classes == 3  # set explicitly from the wrapped model
    with pytest.raises(AttributeError, match="no_such_attribute"):
        model.no_such_attribute
    with torch.no_grad():  # what the engine trains on is the CRF's output, not the network's
        torch.testing.assert_close(model.training_outputs(x).out, model(x))
    twin = copy.deepcopy(model)
    torch.testing.assert_close(twin(x), model(x))


def test_frozen_weights_are_buffers_not_parameters():
    crf = CRFasRNN(4, SMALL, kernels="scalar", learn_weights=False, learn_compatibility=False)
    assert list(crf.parameters()) == []
    torch.testing.assert_close(crf.kernel_weights, torch.tensor([4.0, 3.0]))
    matrix = CRFasRNN(4, SMALL, learn_weights=False, learn_compatibility=False)
    assert list(matrix.parameters()) == []
    torch.testing.assert_close(matrix.bilateral_ker_weights, 4.0 * torch.eye(4))
    torch.testing.assert_close(matrix.spatial_ker_weights, 3.0 * torch.eye(4))
    assert crf.compatibility is None and "compatibility" not in crf.state_dict()


def test_low_precision_scores_are_refined_in_float32_and_returned_as_given():
    crf = CRFasRNN(3, SMALL)
    scores, image = _inputs(dtype=torch.float32)
    for dtype in (torch.bfloat16, torch.float16):
        out = crf(scores.to(dtype), image)
        assert out.dtype == dtype
        torch.testing.assert_close(out.float(), crf(scores.to(dtype).float(), image), atol=0, rtol=0.01)


def test_numpy_numbers_in_params_work():
    import numpy as np

    params = CRFParams(w1=np.float32(4), sigma_alpha=np.float32(3), sigma_beta=np.int64(20), w2=3,
                       sigma_gamma=np.float64(1), iterations=np.int64(2))
    scores, image = _inputs(dtype=torch.float32)
    torch.testing.assert_close(CRFasRNN(3, params)(scores, image),
                               CRFasRNN(3, SMALL.replace(iterations=2))(scores, image))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"num_classes": 1}, ValueError, "num_classes must be an integer >= 2"),
    ({"num_classes": 2.0}, ValueError, "num_classes"),
    ({"num_classes": 3, "params": {"w1": 1}}, TypeError, "params must be a CRFParams"),
    ({"num_classes": 3, "convention": "zheng"}, ValueError, "convention must be one of"),
    ({"num_classes": 3, "kernels": "vector"}, ValueError, "kernels must be one of"),
    ({"num_classes": 3, "convention": "paper"}, ValueError, "convention applies to kernels='scalar'"),
])
def test_constructor_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        CRFasRNN(**kwargs)


def test_forward_rejects_bad_shapes_and_iterations():
    crf = CRFasRNN(3, SMALL)
    scores, image = _inputs(dtype=torch.float32)
    with pytest.raises(ValueError, match="scores must be \\(batch, 3, H, W\\)"):
        crf(scores[:, :2], image)
    with pytest.raises(ValueError, match="image must be \\(batch, 3, H, W\\) matching"):
        crf(scores, image[..., :4])
    with pytest.raises(ValueError, match="iterations must be a non-negative integer"):
        crf(scores, image, iterations=-1)


def test_compatibility_figure():
    import matplotlib.pyplot as plt
    import numpy as np

    from deeplab_edu.viz.crf_rnn import plot_compatibility

    mu = np.array([[0.0, 1.2], [0.7, 0.0]])
    fig = plot_compatibility(mu, ["background", "disc"], start=1 - np.eye(2))
    assert len(fig.axes) == 4  # two heat maps, two colour bars
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), mu - (1 - np.eye(2)))
    plt.close(fig)

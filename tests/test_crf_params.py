"""CRFParams and the input checks every CRF method shares: bad input gets a clear error."""

import numpy as np
import pytest
import torch

from deeplab_edu.crf import METHODS, CRFParams, dense_crf

from crf_cases import disc_scene


@pytest.mark.parametrize("field, value", [
    ("w1", -1.0), ("w2", -0.5), ("w1", float("nan")), ("w2", True),
    ("sigma_alpha", 0.0), ("sigma_beta", -3.0), ("sigma_gamma", float("inf")), ("sigma_alpha", "80"),
    ("iterations", -1), ("iterations", 2.5), ("iterations", True),
])
def test_params_reject_bad_values_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        CRFParams(**{field: value})


def test_params_accept_zero_weights_and_replace_revalidates():
    params = CRFParams(w1=0, w2=0, iterations=0)
    assert params.replace(w1=5).w1 == 5
    with pytest.raises(ValueError, match="sigma_beta"):
        params.replace(sigma_beta=0)


IMAGE, LABEL, PROBS = disc_scene(8, 9)


@pytest.mark.parametrize("image, probs, error, match", [
    (IMAGE, PROBS * 0.5, ValueError, "sum to 1"),
    (IMAGE, np.log(PROBS), ValueError, r"\[0, 1\]"),
    (IMAGE, np.where(PROBS > 0.5, np.nan, PROBS), ValueError, "NaN"),
    (IMAGE, PROBS[0], ValueError, r"\(C, H, W\)"),
    (IMAGE, PROBS[:1] / PROBS[:1], ValueError, "C >= 2"),
    (IMAGE, (PROBS * 100).astype(np.int64), TypeError, "floating"),
    (IMAGE.astype(np.float32), PROBS, TypeError, "uint8"),
    (IMAGE[..., 0], PROBS, ValueError, r"\(H, W, 3\)"),
    (IMAGE[:-1], PROBS, ValueError, "upsampled to the image size"),
    (IMAGE.tolist(), PROBS, TypeError, "numpy.ndarray or torch.Tensor"),
])
@pytest.mark.parametrize("method", sorted(METHODS))
def test_bad_inputs_are_named(method, image, probs, error, match):
    with pytest.raises(error, match=match):
        dense_crf(image, probs, CRFParams(iterations=1), method=method)


def test_unknown_method_and_params_type():
    with pytest.raises(ValueError, match="method must be one of"):
        dense_crf(IMAGE, PROBS, method="gibbs")
    with pytest.raises(TypeError, match="CRFParams"):
        dense_crf(IMAGE, PROBS, params={"w1": 4})


@pytest.mark.parametrize("method", sorted(METHODS))
def test_result_has_the_type_of_probs(method):
    out = dense_crf(IMAGE, PROBS, CRFParams(iterations=2), method=method)
    assert isinstance(out, np.ndarray) and out.dtype == PROBS.dtype and out.shape == PROBS.shape
    out_t = dense_crf(torch.from_numpy(IMAGE), torch.from_numpy(PROBS).double(), CRFParams(iterations=2),
                      method=method)
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float64
    np.testing.assert_allclose(out_t.sum(0).numpy(), 1.0, atol=1e-5)


# The released configurations, copied from their sources (not from params.py): pydensecrf names
# (bi_w, bi_xy_std, bi_rgb_std, pos_w, pos_xy_std, iterations).
RELEASED = {
    "v1-largefov": ((4, 49, 5, 3, 3, 10), "run_densecrf.sh", "read"),
    "v2-resnet101": ((4, 67, 3, 3, 1, 10), "configs/voc12.yaml lines 52-58", "read"),
    "legacy-121": ((4, 121, 5, 3, 3, 10), "no DeepLab release", "unread"),
}


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_published_settings_match_their_sources(name):
    from deeplab_edu.crf.params import PUBLISHED

    values, fragment, checked = RELEASED[name]
    p = PUBLISHED[name].params
    assert (p.w1, p.sigma_alpha, p.sigma_beta, p.w2, p.sigma_gamma, p.iterations) == values
    assert fragment in PUBLISHED[name].source
    assert PUBLISHED[name].checked == checked


def test_default_is_the_named_v1_largefov_release():
    from deeplab_edu.crf.params import DEFAULT_SETTING, PUBLISHED

    assert DEFAULT_SETTING == "v1-largefov"
    assert CRFParams() == PUBLISHED[DEFAULT_SETTING].params
    assert set(PUBLISHED) == set(RELEASED)

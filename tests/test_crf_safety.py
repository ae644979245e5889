"""Every CRF method returns finite probabilities or says which parameters it cannot handle;
a CRF worker that crashes is an error, never a hang."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from deeplab_edu.crf import CRFParams, dense_crf
from deeplab_edu.metrics import confusion_matrix_loops

REPO = Path(__file__).resolve().parent.parent


def inputs(size=12, classes=3):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    probs = rng.random((classes, size, size)).astype(np.float32)
    return image, probs / probs.sum(0)


def tiny(sigma):
    return CRFParams(sigma_alpha=sigma, sigma_beta=sigma, sigma_gamma=sigma, iterations=2)


def test_the_torch_method_names_its_parameters_instead_of_returning_nan():
    image, probs = inputs()
    with pytest.raises(ValueError, match=r"method 'torch'.*sigma_alpha=0\.001"):
        dense_crf(image, probs, tiny(1e-3), method="torch")


@pytest.mark.parametrize("sigma", [1e-6, 1e-7])
def test_the_lattice_says_sigma_is_too_small(sigma):
    image, probs = inputs()
    with pytest.raises(ValueError, match=r"bandwidths \(σ\) far too small"):
        dense_crf(image, probs, tiny(sigma), method="lattice")


def test_pydensecrf_sigma_is_checked_before_the_cpp_code():
    image, probs = inputs(40)
    with pytest.raises(ValueError, match="sigma_alpha=1e-06 is too small for pydensecrf"):
        dense_crf(image, probs, tiny(1e-6), method="pydensecrf")
    assert np.isfinite(dense_crf(image, probs, tiny(1e-2), method="pydensecrf")).all()


@pytest.mark.slow
def test_a_dead_crf_worker_is_an_error_not_a_hang(tmp_path):
    script = textwrap.dedent(f"""
        import os, sys
        import numpy as np
        from deeplab_edu import crf
        from deeplab_edu.datasets import build_dataset
        from deeplab_edu.datasets.synthetic import write_builtin
        from deeplab_edu.evaluate import crf_evaluate

        root = write_builtin({str(tmp_path / 'data')!r}, train=0, val=3, size=24, progress=False)
        dataset = build_dataset("builtin", "val", root=root)
        scores = {str(tmp_path / 'scores')!r}
        os.makedirs(scores)
        for image_id in dataset.ids:
            np.save(os.path.join(scores, image_id + ".npy"),
                    np.full((dataset.num_classes, 24, 24), 1 / dataset.num_classes, np.float16))
        crf.METHODS["pydensecrf"] = lambda image, probs, params: os._exit(11)  # a worker crashing in C++
        try:
            crf_evaluate(dataset, scores, method="pydensecrf", workers=2, progress=False)
        except RuntimeError as err:
            print("ERROR:", err)
            sys.exit(0)
        sys.exit(1)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "worker process died" in done.stdout


def test_confusion_matrix_loops_refuses_a_label_outside_the_classes():
    with pytest.raises(ValueError, match="label -1"):
        confusion_matrix_loops(np.array([0, 1]), np.array([0, -1]), 3)
    with pytest.raises(ValueError, match="class 3"):
        confusion_matrix_loops(np.array([3, 1]), np.array([0, 1]), 3)
    assert confusion_matrix_loops(np.array([2, 1]), np.array([255, 1]), 3).sum() == 1

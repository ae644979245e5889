"""Evaluation, the public face: the way the papers score — whole images, one confusion matrix,
trimap, multi-scale + flip, and the dense CRF on saved scores — re-exported from ``deeplab_edu.engine``.
"""

from __future__ import annotations

from deeplab_edu.checkpoint import load_trained
from deeplab_edu.engine.crf_scores import TORCH_METHODS, crf_evaluate, load_scores
from deeplab_edu.engine.evaluation import DEFAULT_TRIMAP_WIDTHS, EvalResult, evaluate, format_results_table
from deeplab_edu.engine.inference import pad_to_stride, predict_probs

__all__ = ["DEFAULT_TRIMAP_WIDTHS", "EvalResult", "TORCH_METHODS", "crf_evaluate", "evaluate", "format_results_table",
           "load_scores", "load_trained", "pad_to_stride", "predict_probs"]

"""Evaluation, the public face: the way the papers score — whole images, one confusion matrix,
trimap, multi-scale + flip, and the dense CRF on saved scores — re-exported from ``deeplab_edu.engine``.
"""

from __future__ import annotations

from deeplab_edu.checkpoint import load_trained
from deeplab_edu.engine.crf_scores import TORCH_METHODS, crf_evaluate, evaluate_with_crf, load_scores
from deeplab_edu.engine.evaluation import DEFAULT_TRIMAP_WIDTHS, EvalResult, evaluate
from deeplab_edu.engine.inference import pad_to_stride, predict_probs
from deeplab_edu.engine.tables import format_results_table, per_class_row, results_row


__all__ = ["DEFAULT_TRIMAP_WIDTHS", "EvalResult", "TORCH_METHODS", "crf_evaluate", "evaluate", "evaluate_with_crf",
           "format_results_table", "load_scores", "load_trained", "pad_to_stride", "per_class_row", "predict_probs",
           "results_row"]

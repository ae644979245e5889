"""Evaluation, the public face: the way the papers score — whole images, one confusion matrix,
trimap, multi-scale + flip, and the dense CRF on saved scores.

The pieces live in ``deeplab_edu.engine``: whole-image inference (``engine.inference``), the
confusion-matrix evaluation (``engine.evaluation``), the CRF over saved probabilities in worker
processes (``engine.crf_scores``) and the chapters' tables (``engine.tables``). The command
line (``deeplab_edu.cli.evaluate``) builds on this face; this module re-exports the engine's
public names only.
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

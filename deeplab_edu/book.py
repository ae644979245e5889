"""The chapters' one namespace (like d2l's ``d2l``): ``from deeplab_edu import book``, then
``book.atrous_conv1d(x, w, rate=2)``.

:data:`TEACHES` is the index: for each chapter, the modules it teaches from and the names it
introduces (each listed once, under the first chapter that uses it). A name is imported from its
module the first time it is read, so a chapter on the 1-D formula loads neither the training
engine nor the CRF.
"""

from __future__ import annotations

import importlib
from typing import Any

PACKAGE = "deeplab_edu"

# chapter → {module (under deeplab_edu) → names the chapter introduces from it}
TEACHES: dict[str, dict[str, tuple[str, ...]]] = {
    "00 · A tour of the book": {
        "": ("__version__",),
        "environment": ("format_report",),
        "paths": ("REPO_ROOT", "builtin_root", "data_root", "sample_root", "sbd_root", "voc_root"),
        "profiles": ("PROFILES", "get_profile"),
        "runtime": ("default_device", "describe_device", "seed_everything"),
    },
    "01 · Atrous convolution in 1-D": {
        "atrous": ("atrous_conv1d", "atrous_conv2d", "dilate_kernel", "effective_kernel_size",
                   "output_length", "same_padding", "tap_positions"),
        "receptive_field": ("input_support_1d", "output_stride", "seed_example"),
        "viz.atrous": ("plot_atrous_1d", "plot_rates_1d"),
        "viz.receptive_field": ("plot_dependency_tree",),
    },
    "02 · Receptive field": {
        "receptive_field": ("Layer", "conv", "deeplab_v1", "deeplab_v1_largefov", "fc6_table", "field_table",
                            "format_field_table", "measure_support", "output_sizes", "parameters_for_field",
                            "receptive_field", "resnet101_layers", "stack", "support_extent", "vgg16"),
        "viz.receptive_field": ("plot_explorer", "plot_field_growth", "plot_parameters_vs_field",
                                "plot_support_2d"),
        "widgets.receptive_field": ("field_explorer",),
    },
    "03 · The hole algorithm": {
        "hole": ("METHODS", "gridding_footprint", "hole_conv2d", "im2col", "space_to_batch", "sparse_vs_dense",
                 "valid_tap_fraction", "score_map_size", "scaled_rate"),
        "localisation": ("shift_study",),
        "pretrain": ("NUM_CLASSES", "PretrainConfig", "SHIPPED_DIR", "load_classifier", "normalize_batch",
                     "weights_name"),
        "viz.atrous": ("plot_dilated_kernel", "plot_gridding", "plot_hole_methods", "plot_phases",
                       "plot_sparse_dense", "plot_valid_taps"),
        "viz.localisation": ("plot_shift_study",),
    },
    "04 · The fully-connected CRF": {
        "crf": ("CRFParams", "coarse_scores", "dense_crf", "gibbs_energy", "kernel_matrix", "mean_field_steps",
                "mean_field_torch"),
        "crf.search": ("coarse_to_fine", "score_crf"),
        "metrics": ("ConfusionMatrix", "trimap_accuracy", "trimap_band"),
        "viz.crf": ("plot_kernels", "plot_mean_field", "plot_refinement", "plot_trimap"),
        "widgets.crf": ("crf_explorer",),
    },
    "05 · Datasets": {
        "datasets": ("EvalTransform", "TrainTransform", "VOC_CLASSES", "VOC_PALETTE", "build_dataset", "colorize",
                     "default_training_data", "to_index"),
        "datasets.synthetic": ("CLASSES", "MAX_OBJECTS", "colour_family",
                               "make_object_image", "make_scene", "scene_statistics", "write_builtin"),
        "datasets.trainaug": ("PUBLISHED_SIZES", "trainaug_ids"),
        "datasets.voc": ("describe_label_file", "read_label"),
        "viz.datasets": ("plot_augmentations", "plot_label_anatomy", "plot_pairs", "plot_statistics"),
    },
    "06 · The DeepLab models": {
        "aspp": ("ASPP", "ASPP_L", "ASPP_S", "v3_rates"),
        "backbones": ("ResNet",),
        "layouts": ("FC6_VARIANTS", "stage_geometry"),
        "models": ("build_model",),
        "models.anatomy": ("format_layer_table", "layer_table", "measure_receptive_field"),
        "published": ("NOT_INCLUDED", "format_published", "get_table"),
        "separable": ("SeparableConv2d",),
        "viz.models": ("plot_aspp_footprints", "plot_forward"),
        "weights": ("load_pretrained", "load_torchvision_deeplabv3", "load_weights"),
    },
    "07 · Training DeepLab v1 LargeFOV": {
        "diagnostics": ("geometric_rates", "linear_probe", "lr_range_test", "overfit_one_batch"),
        "experiments": ("compare",),
        "recipes": ("format_comparison", "get_recipe"),
        "records": ("read_record", "recorded_effect"),
        "schedules": ("step_lr",),
        "train": ("TrainConfig", "subsample_labels"),
        "trials": ("estimate_runs", "example_predictions", "holdout_split", "per_class_report", "results_report",
                   "run_trial", "setup_chapter", "training_curves", "tune_crf"),
        "viz.predictions": ("plot_predictions",),
        "viz.training": ("plot_training_curves",),
    },
    "08 · Training DeepLab v2": {
        "conclusions": ("Why", "conclusions", "effect_label"),
        "published": ("paper_difference",),
        "schedules": ("poly_lr",),
    },
    "09 · Training DeepLab v3": {
        "class_gap": ("class_gap", "miou_without", "predicted_as"),
        "datasets.build": ("generate_builtin",),
        "evaluate": ("evaluate", "format_results_table"),
        "experiments": ("MIN_NOISE", "Spread"),
        "models.learned_upsampling": ("bilinear_kernel",),
    },
    "11 · A fast, differentiable dense CRF, and CRF-as-RNN": {
        "crf.crf_rnn": ("CRFasRNN",),
        "diagnostics": ("gradient_norm",),
        "engine.loop": ("build_training_model",),
        "viz.crf_rnn": ("lattice_impulse_response", "plot_compatibility", "plot_lattice_kernel"),
    },
}

_SOURCE: dict[str, tuple[str, str]] = {
    name: (f"{PACKAGE}.{module}" if module else PACKAGE, chapter)
    for chapter, modules in TEACHES.items() for module, names in modules.items() for name in names
}

__all__ = sorted(_SOURCE) + ["TEACHES", "modules_by_chapter", "where"]


def where(name: str) -> tuple[str, str]:
    """``(module, chapter)``: the module that defines ``name`` and the chapter that teaches it."""
    if name not in _SOURCE:
        raise KeyError(f"{name!r} is not in the book's index (deeplab_edu.book.TEACHES)")
    return _SOURCE[name]


def modules_by_chapter() -> dict[str, list[str]]:
    """The index the README prints: each chapter and the modules it teaches from."""
    return {chapter: sorted(f"{PACKAGE}.{module}" if module else PACKAGE for module in modules)
            for chapter, modules in TEACHES.items()}


def __getattr__(name: str) -> Any:
    # PEP 562: `book.x` and `from deeplab_edu.book import x` import x's module on first use.
    if name not in _SOURCE:
        raise AttributeError(f"module 'deeplab_edu.book' has no attribute {name!r}; "
                             "a chapter's names are listed in deeplab_edu.book.TEACHES")
    value = getattr(importlib.import_module(_SOURCE[name][0]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__

"""Mutation testing for deeplab_edu: plant one-line bugs, check that a test notices each.

A *mutant* is a copy of the package with one plausible mistake in it (a rate dropped, a
self-pair kept, a normalisation squared ...). A suite that still passes on a mutant has a gap
there. For each mutant this script copies the repository into a temporary directory, applies
the one edit, runs the mutant's own test files with ``pytest -x``, and prints whether the
mutant was **caught** (a test failed) or **survived**. The working tree is never modified,
so an interrupted run (Ctrl-C) leaves nothing behind.

A mutant that cannot be caught because it does not change behaviour carries an
``equivalent`` reason; it is listed but not run.

    python tools/mutants.py               # every mutant (a few minutes on 2 CPU cores)
    python tools/mutants.py --list        # names, files and tests, nothing run
    python tools/mutants.py --only NAME   # one mutant (repeatable; a trailing * matches a prefix)

Adding a mutant: append a ``Mutant(...)`` to one of the groups below, or add a group to
``GROUPS`` (the engine's go in ``ENGINE``). ``original`` must occur exactly once in ``path``;
``tests`` are pytest arguments (files or node ids) run from the repository root. This is a
development tool, not part of ``make test``.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTEST = ("-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--hypothesis-profile=mutants")
# Written into the temporary copy only: a failing property needs no shrinking to count, and
# shrinking is most of the time a caught mutant would otherwise take.
CONFTEST = """from hypothesis import Phase, settings

settings.register_profile("mutants", phases=[Phase.explicit, Phase.reuse, Phase.generate])
"""
TIMEOUT_S = 600  # a mutant that makes a test loop forever counts as caught (by the timeout)


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # relative to the repository root
    original: str  # must occur exactly once in the file
    replacement: str
    tests: tuple[str, ...]
    equivalent: str = ""  # why no test can catch it; such mutants are not run


def _m(name: str, path: str, original: str, replacement: str, *tests: str, equivalent: str = "") -> Mutant:
    return Mutant(name, path, original, replacement, tuple(f"tests/{t}" for t in tests), equivalent)


ATROUS = [
    _m("atrous.effective-size-r", "deeplab_edu/atrous.py",
       "    return k + (k - 1) * (r - 1)", "    return k + (k - 1) * r", "test_atrous.py::test_same_padding_keeps_the_length"),
    _m("atrous.1d-taps-not-dilated", "deeplab_edu/atrous.py",
       "x[:, :, r * k::s][..., :n_out]", "x[:, :, k::s][..., :n_out]", "test_atrous.py::test_formula_equals_conv1d_with_dilation"),
    _m("atrous.2d-rows-not-dilated", "deeplab_edu/atrous.py",
       "x_kl = x[:, :, rh * k::sh, rw * l::sw]", "x_kl = x[:, :, k::sh, rw * l::sw]",
       "test_atrous.py::test_formula_equals_conv2d_with_dilation"),
]

RECEPTIVE_FIELD = [
    _m("rf.field-ignores-jump", "deeplab_edu/receptive_field.py",
       "field += (layer.effective_kernel - 1) * jump", "field += layer.effective_kernel - 1",
       "test_receptive_field.py::test_seed_example_fields"),
    _m("rf.jump-not-multiplied", "deeplab_edu/receptive_field.py",
       "jump *= layer.stride", "jump = layer.stride", "test_receptive_field.py::test_vgg16_by_arithmetic"),
    _m("rf.effective-kernel-k-times-r", "deeplab_edu/receptive_field.py",
       "return effective_kernel_size(self.kernel, self.dilation)", "return self.kernel * self.dilation",
       "test_receptive_field.py::test_effective_kernel_is_the_zero_inserted_length"),
    _m("rf.same-padding-ignores-rate", "deeplab_edu/receptive_field.py",
       "padding = dilation * (kernel - 1) // 2", "padding = (kernel - 1) // 2", "test_receptive_field.py::test_deeplab_v1_321_crop_gives_41_scores",
       "test_receptive_field.py::test_output_sizes_match_torch"),
    _m("rf.trace-ignores-padding", "deeplab_edu/receptive_field.py",
       "i = layer.stride * o - layer.padding + layer.dilation * t", "i = layer.stride * o + layer.dilation * t",
       "test_receptive_field.py::test_loops_measurement_and_recurrence_agree"),
]

HOLE = [
    _m("hole.phases-transposed", "deeplab_edu/hole.py",
       ".permute(3, 5, 0, 1, 2, 4)", ".permute(5, 3, 0, 1, 2, 4)", "test_hole.py::test_space_to_batch_holds_the_phases_and_inverts"),
    _m("hole.pad-axes-swapped", "deeplab_edu/hole.py",
       "x = F.pad(x, (0, -x.shape[-1] % rate, 0, -x.shape[-2] % rate))",
       "x = F.pad(x, (0, -x.shape[-2] % rate, 0, -x.shape[-1] % rate))", "test_hole.py::test_every_method_equals_native_dilated_conv"),
    _m("hole.zero-insert-as-dilation", "deeplab_edu/hole.py",
       "return F.conv2d(x, dilate_kernel(weight, rate), bias, padding=padding)",
       "return F.conv2d(x, weight, bias, padding=padding, dilation=rate)", "test_hole.py::test_every_method_equals_native_dilated_conv",
       equivalent="dilation=r is what inserting r-1 zeros computes: the identity the lesson proves"),
]

LATTICE = [
    _m("lattice.no-output-constant", "deeplab_edu/crf/permutohedral.py",
       "    return 1.0 / (1.0 + 2.0 ** (-d))", "    return 1.0", "test_crf_lattice.py::test_unnormalised_lattice_mass_is_the_measured_fraction_of_the_gaussians"),
    _m("lattice.scale-d-not-d+1", "deeplab_edu/crf/permutohedral.py",
       "(d + 1) * math.sqrt(2.0 / 3.0) / math.sqrt", "d * math.sqrt(2.0 / 3.0) / math.sqrt",
       "test_crf_lattice.py::test_lattice_kernel_has_the_gaussians_width"),
    _m("lattice.blur-one-sided", "deeplab_edu/crf/permutohedral.py",
       ".add_(lattice.index_select(0, self._minus[j])).mul_(0.5)", ".mul_(0.5)", "test_crf_lattice.py::test_reverse_filter_is_the_transpose",
       "test_crf_lattice.py::test_unnormalised_lattice_mass_is_the_measured_fraction_of_the_gaussians"),
    _m("lattice.barycentric-no-wrap", "deeplab_edu/crf/permutohedral.py",
       "barycentric[:, 0] += 1.0 + barycentric[:, d + 1]", "barycentric[:, 0] += 1.0", "test_crf_lattice.py::test_unnormalised_lattice_mass_is_the_measured_fraction_of_the_gaussians",
       "test_crf_lattice.py::test_normalised_lattice_filter_approximates_the_exact_gaussian"),
    _m("lattice.reverse-same-order", "deeplab_edu/crf/permutohedral.py",
       "for j in (range(self.dim, -1, -1) if reverse else range(self.dim + 1)):",
       "for j in range(self.dim + 1):", "test_crf_lattice.py::test_reverse_filter_is_the_transpose"),
    _m("lattice-mf.paper-keeps-self-pair", "deeplab_edu/crf/lattice_meanfield.py",
       "return lattice.filter(q) - q  # the paper", "return lattice.filter(q)  # the paper",
       "test_crf_lattice.py::test_paper_messages_drop_exactly_one_self_pair_per_kernel"),
    _m("lattice-mf.paper-fused-one-self-pair", "deeplab_edu/crf/lattice_meanfield.py",
       "else message - (w1 + w2) * q", "else message - q", "test_crf_lattice.py::test_paper_messages_drop_exactly_one_self_pair_per_kernel"),
    _m("lattice-mf.densecrf-drops-self-pair", "deeplab_edu/crf/lattice_meanfield.py",
       "            return lattice.filter(q)\n", "            return lattice.filter(q) - q\n",
       "test_crf_lattice.py::test_densecrf_messages_keep_the_self_pair_of_the_normalised_kernel"),
    _m("lattice-mf.normalise-by-D", "deeplab_edu/crf/lattice_meanfield.py",
       ".clamp_min(1e-20).rsqrt()", ".clamp_min(1e-20).reciprocal()", "test_crf_lattice.py::test_densecrf_messages_keep_the_self_pair_of_the_normalised_kernel"),
    _m("lattice-mf.appearance-unnormalised", "deeplab_edu/crf/lattice_meanfield.py",
       "self.appearance = _normalised(self.appearance)", "self.appearance = self.appearance",
       "test_crf_lattice.py::test_densecrf_messages_keep_the_self_pair_of_the_normalised_kernel"),
    _m("lattice-mf.potts-sign", "deeplab_edu/crf/lattice_meanfield.py",
       "        return message - theta", "        return -message - theta", "test_crf_lattice.py::test_lattice_meanfield_probabilities_are_close_to_the_exact_ones"),
]

MEANFIELD = [
    _m("torch-mf.strided-self-pair-dropped", "deeplab_edu/crf/torch_meanfield.py",
       "        return out + q", "        return out", "test_crf_meanfield.py::test_strided_appearance_kernel_is_the_exact_table_subsampled_with_one_self_pair"),
    _m("torch-mf.strided-self-pair-unweighted", "deeplab_edu/crf/torch_meanfield.py",
       "out[:, self.source_index] -= self.weight * q[:, self.source_index]",
       "out[:, self.source_index] -= q[:, self.source_index]", "test_crf_meanfield.py::test_strided_appearance_kernel_is_the_exact_table_subsampled_with_one_self_pair"),
    _m("torch-mf.sources-from-corner", "deeplab_edu/crf/torch_meanfield.py",
       "start = stride // 2", "start = 0", "test_crf_meanfield.py::test_strided_appearance_kernel_is_the_exact_table_subsampled_with_one_self_pair"),
    _m("torch-mf.smoothness-sigma-squared", "deeplab_edu/crf/torch_meanfield.py",
       "taps = torch.exp(-offsets**2 / (2 * sigma**2))", "taps = torch.exp(-offsets**2 / sigma**2)",
       "test_crf_meanfield.py::test_torch_path_equals_exact_path"),
    _m("torch-mf.paper-keeps-self-pair", "deeplab_edu/crf/torch_meanfield.py",
       "message += weight * (kernel(q) - q)", "message += weight * kernel(q)", "test_crf_meanfield.py::test_torch_path_equals_exact_path"),
    _m("torch-mf.normalise-by-D", "deeplab_edu/crf/torch_meanfield.py",
       "scales = [k(ones).rsqrt() for _, k in kernels]", "scales = [k(ones).reciprocal() for _, k in kernels]",
       "test_crf_meanfield.py::test_torch_path_equals_exact_path"),
    _m("torch-mf.potts-without-the-sum", "deeplab_edu/crf/torch_meanfield.py",
       "compatibility = message.sum(0, keepdim=True) - message  # Potts", "compatibility = -message  # Potts",
       "test_crf_meanfield.py::test_torch_path_equals_exact_path",
       equivalent="the sum over labels is the same for every label of a pixel; softmax ignores it"),
    _m("exact-mf.potts-plus", "deeplab_edu/crf/meanfield.py",
       "compatibility = message.sum(0, keepdims=True) - message",
       "compatibility = message.sum(0, keepdims=True) + message", "test_crf_meanfield.py::test_matrix_update_equals_the_algorithm_written_as_loops"),
    _m("exact-mf.kernel-not-transposed", "deeplab_edu/crf/meanfield.py",
       "message = q @ kernel.T", "message = q @ kernel", "test_crf_meanfield.py::test_matrix_update_equals_the_algorithm_written_as_loops",
       equivalent="both conventions' kernel matrices are symmetric (symmetric normalisation)"),
    _m("energy.densecrf-normalise-by-D", "deeplab_edu/crf/energy.py",
       "scale = 1.0 / np.sqrt(kernel.sum(1))", "scale = 1.0 / kernel.sum(1)", "test_crf_energy.py::test_densecrf_convention_is_symmetric_normalisation"),
    _m("energy.paper-keeps-self-pair", "deeplab_edu/crf/energy.py",
       "np.fill_diagonal(k, 0.0)", "np.fill_diagonal(k, 1.0)", "test_crf_meanfield.py::test_matrix_update_equals_the_algorithm_written_as_loops"),
    _m("energy.sigma-beta-not-squared", "deeplab_edu/crf/energy.py",
       "colour2 / (2 * params.sigma_beta**2)", "colour2 / (2 * params.sigma_beta)",
       "test_crf_energy.py::test_affinity_maps_are_rows_of_the_pair_tables"),
]

METRICS = [
    _m("metrics.ignore-as-a-class", "deeplab_edu/metrics.py",
       "keep = target != self.ignore_index", "keep = target >= 0", "test_metrics.py::test_ignored_pixels_are_not_background"),
    _m("metrics.union-counts-tp-twice", "deeplab_edu/metrics.py",
       "union = self.matrix.sum(0) + self.matrix.sum(1) - tp", "union = self.matrix.sum(0) + self.matrix.sum(1)",
       "test_metrics.py::test_small_example_by_hand"),
    _m("metrics.miou-absent-classes-as-zero", "deeplab_edu/metrics.py",
       "return _nanmean(self.per_class_iou())", "return float(np.nan_to_num(self.per_class_iou()).mean())",
       "test_metrics.py::test_scores_match_their_set_definitions"),
    _m("metrics.fwiou-unweighted", "deeplab_edu/metrics.py",
       "return float((truth / total * iou).sum())", "return float(iou.mean())", "test_metrics.py::test_scores_match_their_set_definitions"),
    _m("metrics.trimap-one-side-of-horizontal-edges", "deeplab_edu/metrics.py",
       "    edge[:-1, :] |= vertical\n", "\n", "test_metrics.py::test_band_is_symmetric_about_edges_in_both_directions"),
    _m("metrics.trimap-one-side-of-vertical-edges", "deeplab_edu/metrics.py",
       "    edge[:, :-1] |= horizontal\n", "\n", "test_metrics.py::test_band_is_symmetric_about_edges_in_both_directions"),
    _m("metrics.trimap-width-off-by-one", "deeplab_edu/metrics.py",
       "return ndimage.distance_transform_edt(~edge) <= width - 1",
       "return ndimage.distance_transform_edt(~edge) <= width", "test_metrics.py::test_band_around_a_straight_edge_is_two_widths_across"),
]

ASPP = [
    _m("aspp.v2-mean-not-sum", "deeplab_edu/aspp.py",
       "for branch in self.branches]).sum(dim=0)", "for branch in self.branches]).mean(dim=0)", "test_aspp.py::test_v2_scores_are_the_sum_of_the_branches"),
    _m("aspp.v2-no-dropout-after-fc7", "deeplab_edu/aspp.py",
       "relu7=nn.ReLU(inplace=True), drop7=nn.Dropout(dropout),",
       "relu7=nn.ReLU(inplace=True), drop7=nn.Identity(),", "test_aspp.py::test_v2_vgg_dropout_acts_after_fc6_and_fc7_in_training_only"),
    _m("aspp.v2-channel-dropout", "deeplab_edu/aspp.py",
       "drop6=nn.Dropout(dropout)", "drop6=nn.Dropout2d(dropout)",
       "test_aspp.py::test_v2_vgg_dropout_acts_after_fc6_and_fc7_in_training_only"),
    _m("aspp.v2-fc6-undilated", "deeplab_edu/aspp.py",
       "fc6=nn.Conv2d(in_channels, hidden_channels, 3, padding=rate, dilation=rate),",
       "fc6=nn.Conv2d(in_channels, hidden_channels, 3, padding=1),", "test_aspp.py::test_v2_vgg_branch_is_the_largefov_head_at_each_rate"),
    _m("aspp.v3-dropout-fixed-at-half", "deeplab_edu/aspp.py",
       "nn.ReLU(inplace=True), nn.Dropout(dropout))", "nn.ReLU(inplace=True), nn.Dropout(0.5))", "test_aspp.py::test_v3_dropout_is_the_last_step_of_the_projection"),
    _m("aspp.v3-dropout-before-relu", "deeplab_edu/aspp.py",
       "nn.ReLU(inplace=True), nn.Dropout(dropout))", "nn.Dropout(dropout), nn.ReLU(inplace=True))", "test_aspp.py::test_v3_dropout_is_the_last_step_of_the_projection",
       equivalent="dropout multiplies by 0 or 1/(1-p) > 0, which commutes with ReLU"),
    _m("aspp.v3-first-branch-3x3", "deeplab_edu/aspp.py",
       "branches = [conv_bn_relu(in_channels, out_channels, 1)]",
       "branches = [conv_bn_relu(in_channels, out_channels, 3)]", "test_aspp.py::test_v3_branches_are_one_1x1_and_3x3_at_each_rate"),
    _m("aspp.v3-atrous-branches-1x1", "deeplab_edu/aspp.py",
       "conv_bn_relu(in_channels, out_channels, 3, rate, separable) for rate in self.rates]",
       "conv_bn_relu(in_channels, out_channels, 1, rate, separable) for rate in self.rates]",
       "test_aspp.py::test_v3_branches_are_one_1x1_and_3x3_at_each_rate"),
    _m("aspp.v3-rates-not-doubled", "deeplab_edu/aspp.py",
       "return tuple(r * 16 // output_stride for r in V3_RATES)", "return V3_RATES", "test_aspp.py::test_v3_rates_double_at_output_stride_8"),
]

MODELS = [
    _m("v3plus.low-level-ignored", "deeplab_edu/models/v3plus.py",
       "torch.cat([encoded, self.reduce(low_level)], dim=1)", "torch.cat([encoded, 0 * self.reduce(low_level)], dim=1)",
       "test_models.py::test_v3plus_low_level_features_reach_the_scores_near_where_they_change"),
    _m("v3plus.concat-order-swapped", "deeplab_edu/models/v3plus.py",
       "torch.cat([encoded, self.reduce(low_level)], dim=1)", "torch.cat([self.reduce(low_level), encoded], dim=1)",
       "test_models.py::test_v3plus_decoder_is_the_papers_fusion_at_stride_4"),
    _m("v3plus.nearest-upsampling", "deeplab_edu/models/v3plus.py",
       "encoded = upsample(encoded, low_level.shape[-2:])",
       "encoded = torch.nn.functional.interpolate(encoded, size=low_level.shape[-2:])", "test_models.py::test_v3plus_decoder_is_the_papers_fusion_at_stride_4"),
    _m("v3plus.reduce-3x3", "deeplab_edu/models/v3plus.py",
       "self.reduce = conv_bn_relu(low_level_channels, reduced, 1)",
       "self.reduce = conv_bn_relu(low_level_channels, reduced, 3)", "test_models.py::test_v3plus_decoder_is_the_papers_fusion_at_stride_4"),
    _m("v1.channel-dropout", "deeplab_edu/models/v1.py",
       "drop6=nn.Dropout(dropout)", "drop6=nn.Dropout2d(dropout)",
       "test_models.py::test_v1_dropout_drops_activations_one_by_one_in_training_only"),
    _m("models.upsample-align-corners", "deeplab_edu/models/base.py",
       'mode="bilinear", align_corners=False)', 'mode="bilinear", align_corners=True)', "test_models.py::test_logits_are_the_scores_sampled_at_pixel_centres"),
    _m("v2.vgg-without-largefov-branches", "deeplab_edu/models/v2.py",
       'hidden = scaled(1024, width) if backbone == "vgg16" else None', "hidden = None", "test_models.py::test_v2_vgg_branches_are_largefov_heads"),
    # The planted bugs of issue 22: each passed every test before the tests named here.
    _m("multiscale.input-never-rescaled", "deeplab_edu/models/multiscale.py",
       "scaled = x if scale == 1.0 else F.interpolate(", "scaled = x if True else F.interpolate(",
       "test_models.py::test_multiscale_fuses_by_the_maximum"),
    _m("v3plus.decoder-3x3-dilated", "deeplab_edu/models/v3plus.py",
       "conv_bn_relu(channels, channels, 3, separable=separable))",
       "conv_bn_relu(channels, channels, 3, 2, separable=separable))",
       "test_models.py::test_v3plus_decoder_is_the_papers_fusion_at_stride_4"),
    _m("v3plus.decoder-classifier-3x3", "deeplab_edu/models/v3plus.py",
       "self.classifier = nn.Conv2d(channels, num_classes, 1)",
       "self.classifier = nn.Conv2d(channels, num_classes, 3, padding=1)",
       "test_models.py::test_v3plus_decoder_is_the_papers_fusion_at_stride_4"),
    _m("v3.aux-head-not-trained", "deeplab_edu/models/v3.py",
       'aux = None if self.aux_classifier is None else self.aux_classifier(features["aux"])', "aux = None",
       "test_models.py::test_every_model_meets_the_training_contract"),
    _m("msc.scales-not-trained", "deeplab_edu/models/multiscale.py",
       "return TrainingOutput(fused, scales=per_scale)", "return TrainingOutput(fused)",
       "test_models.py::test_multiscale_fuses_by_the_maximum"),
    _m("crf-rnn.trains-the-network-alone", "deeplab_edu/models/crf_rnn.py",
       "return self.crf(self.model(x), rgb)", "return self.model(x) + 0 * rgb.sum()",
       "test_crf_rnn.py::test_segmenter_trains_model_and_crf_end_to_end"),
    _m("inference.scales-unchecked", "deeplab_edu/engine/inference.py",
       "scales = check_scales(scales)", "scales = tuple(float(s) for s in scales)",
       "test_models.py::test_input_scales_follow_one_rule_everywhere"),
    _m("multiscale.scales-unchecked", "deeplab_edu/models/multiscale.py",
       "self.scales = check_scales(scales)", "self.scales = tuple(float(s) for s in scales)",
       "test_models.py::test_input_scales_follow_one_rule_everywhere"),
    _m("load-trained.reads-the-file-twice", "deeplab_edu/checkpoint.py",
       "_restore(state, checkpoint, model, None, None, config, restore_rng=False)",
       "load_checkpoint(checkpoint, model, model_config=config)",
       "test_checkpoint.py::test_load_trained_reads_the_checkpoint_once"),
]

BACKBONES = [
    _m("resnet.stride-kept", "deeplab_edu/layouts.py",
       "rate *= stride  # drop the stride", "rate *= 1  # drop the stride", "test_backbones.py::test_stage_rates_follow_the_papers"),
    _m("resnet.multi-grid-ignored", "deeplab_edu/layouts.py",
       "rates = [rate * multi_grid[unit % len(multi_grid)] for unit in range(units)]",
       "rates = [rate for unit in range(units)]", "test_backbones.py::test_stage_rates_follow_the_papers"),
    _m("resnet.first-unit-rate", "deeplab_edu/layouts.py",
       "rates = [previous_rate] + [rate] * (units - 1)", "rates = [rate] * units", "test_backbones.py::test_stage_rates_follow_the_papers"),
    _m("vgg.pool4-stride-2", "deeplab_edu/layouts.py",
       "DEEPLAB_POOL_STRIDES = (2, 2, 2, 1, 1)", "DEEPLAB_POOL_STRIDES = (2, 2, 2, 2, 1)",
       "test_backbones.py::test_vgg16_has_output_stride_8"),
    _m("vgg.conv5-undilated", "deeplab_edu/layouts.py",
       "DEEPLAB_CONV_RATES = (1, 1, 1, 1, 2)", "DEEPLAB_CONV_RATES = (1, 1, 1, 1, 1)",
       "test_backbones.py::test_vgg16_backbone_is_the_calculators_deeplab_v1_up_to_pool5"),
    _m("resnet.module-ignores-the-geometry", "deeplab_edu/backbones/resnet.py",
       "layer.append(Bottleneck(in_channels, planes, stride, rate, downsample))",
       "layer.append(Bottleneck(in_channels, planes, stride, 1, downsample))",
       "test_receptive_field.py::test_resnet101_spec_is_the_geometry_the_backbone_runs"),
]

ENGINE = [
    _m("loss.labels-off-the-score-grid", "deeplab_edu/engine/losses.py",
       "return labels[..., ::s, ::s]", "return labels[..., s // 2::s, s // 2::s]",
       "test_train.py::test_subsampled_labels_are_every_eighth_pixel_with_corners_aligned"),
    _m("loss.upsampling-align-corners", "deeplab_edu/engine/losses.py",
       'size=labels.shape[-2:], mode="bilinear", align_corners=False)',
       'size=labels.shape[-2:], mode="bilinear", align_corners=True)',
       "test_train.py::test_upsampled_loss_counts_only_the_labelled_pixels"),
    _m("loss.void-counted-as-background", "deeplab_edu/engine/losses.py",
       "return F.cross_entropy(scores, labels, ignore_index=ignore_index)",
       "return F.cross_entropy(scores, labels.masked_fill(labels == ignore_index, 0))",
       "test_train.py::test_downsampled_loss_is_the_mean_negative_log_likelihood_of_the_kept_labels",
       "test_train.py::test_upsampled_loss_counts_only_the_labelled_pixels"),
    _m("inference.flip-not-mirrored-back", "deeplab_edu/engine/inference.py",
       "                logits = logits.flip(-1)", "                logits = logits",
       "test_evaluate.py::test_flip_inference_is_mirror_equivariant_and_scales_average"),
    _m("inference.padding-left-in", "deeplab_edu/engine/inference.py",
       "logits = model(pad_to_stride(xi, stride))[..., :h, :w].float()",
       "logits = F.interpolate(model(pad_to_stride(xi, stride)).float(), size=(h, w), mode='bilinear')",
       "test_evaluate.py::test_single_scale_is_the_softmax_of_the_padded_image_cropped_back"),
    _m("loop.accumulation-not-averaged", "deeplab_edu/engine/loop.py",
       "1 / config.accumulate, config.aux_weight)", "1.0, config.aux_weight)",
       "test_train.py::test_gradient_accumulation_equals_the_whole_batch"),
    _m("loop.non-finite-weights-saved", "deeplab_edu/engine/loop.py",
       "return all(bool(torch.isfinite(t).all()) for t in model.state_dict().values() if t.is_floating_point())",
       "return True", "test_run_dir.py::test_non_finite_weights_are_never_saved_as_a_good_checkpoint"),
    _m("run-dir.recipe-not-compared", "deeplab_edu/engine/run_dir.py",
       "            if a.get(key) != b.get(key)]", "            if False]",
       "test_run_dir.py::test_a_different_recipe_is_refused_naming_every_field"),
    _m("run-dir.schedule-not-extended", "deeplab_edu/engine/run_dir.py",
       "    scheduler.total_iters = config.iterations\n", "    return\n",
       "test_run_dir.py::test_more_iterations_extend_the_poly_schedule"),
    _m("config.short-run-never-saves", "deeplab_edu/engine/config.py",
       "else max(self.iterations // 4, 1)", "else self.iterations // 4 or 10**9",
       "test_run_dir.py::test_the_checkpoint_interval_follows_the_iterations"),
    _m("optimizer.head-at-base-rate", "deeplab_edu/schedules.py",
       'for part, part_mult in (("backbone", 1.0), ("head", head_lr_mult)):',
       'for part, part_mult in (("backbone", 1.0), ("head", 1.0)):',
       "test_train.py::test_training_lowers_the_loss_and_writes_log_and_checkpoint", "test_recipes.py"),
    _m("optimizer.head-layers-ignored", "deeplab_edu/schedules.py",
       "        parts = _narrow_head(model, parts, tuple(head_layers))", "        pass",
       "test_recipes.py"),
    _m("checkpoint.written-in-place", "deeplab_edu/checkpoint.py",
       'fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(path), suffix=".tmp", dir=path.parent)',
       'fd, tmp = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), str(path) + ".x"',
       "test_checkpoint.py::test_interrupted_write_leaves_the_previous_checkpoint_intact"),
]

# An import that runs up the layers (a lesson reaching the engine) must fail the build.
LAYERING = [
    _m("layers.lesson-imports-engine", "deeplab_edu/hole.py",
       "from deeplab_edu import validate\n", "from deeplab_edu import train, validate  # noqa: F401\n",
       "test_layers.py::test_every_import_runs_down_the_layers"),
    _m("layers.base-imports-data-lazily", "deeplab_edu/metrics.py",
       "    from scipy import ndimage  # here, not at the top",
       "    from deeplab_edu.datasets import palette  # noqa: F401\n    from scipy import ndimage  # here, not at the top",
       "test_layers.py::test_every_import_runs_down_the_layers"),
]

GROUPS = [LAYERING, ATROUS, RECEPTIVE_FIELD, HOLE, LATTICE, MEANFIELD, METRICS, ASPP, MODELS, BACKBONES, ENGINE]
MUTANTS = [m for group in GROUPS for m in group]


def _check(mutants: list[Mutant]) -> None:
    """Every mutant names a unique original that occurs once, and tests that exist."""
    names = [m.name for m in mutants]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise SystemExit(f"duplicate mutant names: {sorted(duplicates)}")
    for m in mutants:
        text = (ROOT / m.path).read_text()
        found = text.count(m.original)
        if found != 1:
            raise SystemExit(f"{m.name}: {m.original!r} occurs {found} times in {m.path}, expected once")
        for test in m.tests:
            if not (ROOT / test.split("::")[0]).exists():
                raise SystemExit(f"{m.name}: test file {test} does not exist")


def _copy_tree(destination: Path) -> None:
    ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".hypothesis", ".pytest_cache",
                                    "*.ipynb", ".ipynb_checkpoints", "runs", "outputs")
    shutil.copytree(ROOT, destination, ignore=ignore, dirs_exist_ok=True)
    if (destination / "conftest.py").exists():
        raise SystemExit("the repository has a root conftest.py; merge the mutants profile into it")
    (destination / "conftest.py").write_text(CONFTEST)


def run(mutant: Mutant, copy: Path) -> tuple[str, float, str]:
    """Apply the mutant in ``copy``, run its tests, restore the file: (verdict, seconds, last line)."""
    target = copy / mutant.path
    original = target.read_text()
    target.write_text(original.replace(mutant.original, mutant.replacement, 1))
    env = {**os.environ, "PYTHONPATH": str(copy), "DEEPLAB_EDU_PROFILE": "smoke",
           "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.perf_counter()
    try:
        result = subprocess.run([sys.executable, *PYTEST, *mutant.tests], cwd=copy, env=env,
                                capture_output=True, text=True, timeout=TIMEOUT_S)
        verdict = "caught" if result.returncode != 0 else "SURVIVED"
        lines = (result.stdout + result.stderr).strip().splitlines()
        last = lines[-1] if lines else ""
    except subprocess.TimeoutExpired:
        verdict, last = "caught", f"timed out after {TIMEOUT_S} s"
    finally:
        target.write_text(original)
    return verdict, time.perf_counter() - start, last


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this mutant (repeatable; shell-style wildcards allowed)")
    args = parser.parse_args(argv)
    _check(MUTANTS)
    chosen = MUTANTS
    if args.only:
        chosen = [m for m in MUTANTS if any(fnmatch.fnmatchcase(m.name, pattern) for pattern in args.only)]
        if not chosen:
            raise SystemExit(f"no mutant matches {args.only}; see --list")
    if args.list:
        for m in chosen:
            tag = f"  [equivalent: {m.equivalent}]" if m.equivalent else ""
            print(f"{m.name:45} {m.path:38} {' '.join(m.tests)}{tag}")
        print(f"{len(chosen)} mutants")
        return 0

    survived, caught, equivalent = [], 0, 0
    with tempfile.TemporaryDirectory(prefix="deeplab_edu-mutants-") as tmp:
        copy = Path(tmp) / "repo"
        _copy_tree(copy)
        for m in chosen:
            if m.equivalent:
                equivalent += 1
                print(f"{'equivalent':10} {m.name:45} {m.equivalent}", flush=True)
                continue
            verdict, seconds, last = run(m, copy)
            print(f"{verdict:10} {m.name:45} {seconds:6.1f} s  {last[:70]}", flush=True)
            if verdict == "caught":
                caught += 1
            else:
                survived.append(m.name)
    print(f"\n{caught} caught, {len(survived)} survived, {equivalent} equivalent (not run), "
          f"of {len(chosen)} mutants")
    if survived:
        print("survived: " + ", ".join(survived))
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())

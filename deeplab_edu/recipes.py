"""Each DeepLab version's published training recipe, every number with where it was read.

A recipe is what the paper (or the authors' reference implementation) trained with on PASCAL
VOC 2012 (+SBD "trainaug", 10 582 images). Each number is a :class:`Cited`: the value, the source
(paper section, or repository + file + line / flag name), and how it was checked: ``READ`` in the
paper's own text or the authors' (or a reproducing port's) file; ``SECONDARY`` in a
re-implementation, a fork's copy of a release file or a summary of the paper; ``UNREAD`` as the
book has long quoted it, unverified. ``format_comparison`` marks every number that is not ``READ``.

The v1 paper was read in a transcription of arXiv 1412.7062 (English with a Chinese translation)
in the public code index, §5 "Training". The reference implementations cited: TF
(``tensorflow/models`` ``research/deeplab``, the authors' v3/v3+ code); Caffe (the v2 release's
VGG-16 ``train_train.prototxt`` as copied in the fork ``talent518/deeplab-public-ver2``); kazuto
(``kazuto1011/deeplab-pytorch`` at 4219467, v2 ResNet-101, converts and reproduces the authors'
Caffe release); rulixiang (``rulixiang/deeplab-pytorch`` at d9933a0, v1 LargeFOV).

**Parameter groups.** Caffe gives each blob an ``lr_mult`` and a ``decay_mult``: the v1/v2
releases train every bias at 2× without weight decay and the classifier fc8 at 10× (biases 20×).
TF DeepLab regularises convolution weights only (biases, BatchNorm's γ and β and, with
``regularize_depthwise=False``, depthwise weights take no decay) and trains every layer at one
rate (``last_layer_gradient_multiplier`` 1). ``schedules.make_optimizer`` builds these groups.

**Evaluation output stride of v3+.** v3+ Table 5 reports eval output strides 16 and 8 for the model
trained at 16 (``published.TABLES["v3plus_xception"]``). The book follows the OS-16 rows: the
engine scores a model at the stride it was trained with (it never re-dilates a trained network),
and 16 is the cheaper. v3's text evaluates at 8, so its table shows that departure.

``format_comparison`` sets a run's configuration beside the paper's, one row per field of
``COMPARED`` (``NOT_COMPARED`` says why each other field is left out); ``config_overrides`` gives
the ``TrainConfig`` keyword arguments that reproduce a recipe.
"""

from __future__ import annotations

import dataclasses
from typing import Any

READ = "read"
SECONDARY = "secondary"
UNREAD = "unread"
CHECKS = (READ, SECONDARY, UNREAD)


@dataclasses.dataclass(frozen=True)
class Cited:
    """One number of a recipe, with its source and how it was checked (``READ`` …)."""

    value: Any
    source: str
    checked: str = READ

    def __post_init__(self) -> None:
        if self.checked not in CHECKS:
            raise ValueError(f"checked must be one of {CHECKS}, got {self.checked!r}")
        if not self.source.strip():
            raise ValueError("every recipe number needs a source")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A version's training recipe. ``head_layers``: names of the modules (last component of
    the module path) that train at ``head_lr_mult`` × the base rate. ``blocks``, ``dropout``,
    ``bn_momentum`` hold None where the network has no such thing."""

    model: str
    title: str
    dataset: Cited
    backbone: Cited
    width: Cited
    blocks: Cited
    dropout: Cited
    initialisation: Cited
    optimizer: Cited
    lr: Cited
    head_lr_mult: Cited
    head_layers: Cited
    bias_lr_mult: Cited
    bias_decay_mult: Cited
    norm_decay_mult: Cited
    depthwise_decay_mult: Cited
    schedule: Cited
    momentum: Cited
    weight_decay: Cited
    batch_size: Cited
    crop_size: Cited
    iterations: Cited
    scale: Cited
    output_stride: Cited
    eval_output_stride: Cited
    loss: Cited
    batchnorm: Cited
    bn_momentum: Cited
    power: Cited | None = None  # the poly schedule's
    step_size: Cited | None = None  # the step schedule's
    gamma: Cited | None = None
    notes: str = ""


_V1_PAPER = "v1 (Chen et al., ICLR 2015, arXiv 1412.7062) §5 'Training'"
_V1_DATA = "v1 §5 'Dataset' (VOC 2012 with Hariharan et al.'s extra annotations: 10,582 training images)"
_RLX_V1 = "rulixiang/deeplab-pytorch config/deeplabv1_voc12.yaml"
_RLX_V1_TRAIN = "rulixiang/deeplab-pytorch v1/train_deeplabv1.py"
_CAFFE_VGG = "talent518/deeplab-public-ver2 exper/voc12/config/vgg16/train_train.prototxt (a fork's copy of the v2 release)"
_KAZ_CFG = "kazuto1011/deeplab-pytorch configs/voc12.yaml"
_KAZ_MAIN = "kazuto1011/deeplab-pytorch main.py"
_KAZ_README = "kazuto1011/deeplab-pytorch README.md"
_TF_TRAIN = "tensorflow/models research/deeplab/train.py"
_TF_MODEL = "tensorflow/models research/deeplab/model.py"
_TF_COMMON = "tensorflow/models research/deeplab/common.py"
_TF_XCEPTION = "tensorflow/models research/deeplab/core/xception.py"
_TF_FEATURES = "tensorflow/models research/deeplab/core/feature_extractor.py"
_V3_PAPER = "v3 (Chen et al., arXiv 1706.05587) §4.1"  # read in a transcription in the code index
_V3P_SUMMARY = "v3+ (Chen et al., ECCV 2018) §4, as summarised in twblogs.net/a/5d440bf5bd9eee5327fb3fec"
_RESNET101 = (3, 4, 23, 3)

_TF_NO_BIAS_DECAY = (f"{_TF_MODEL} _get_branch_logits (weights_regularizer only: slim sets no "
                     "biases_regularizer; the convolutions before BatchNorm have no bias)")
_TF_NO_NORM_DECAY = f"{_TF_MODEL} (slim.batch_norm with decay, epsilon, scale: no regularizer)"
_CAFFE_DEFAULT_DECAY = "Caffe's decay_mult defaults to 1 (the release sets it only for biases)"


RECIPES: dict[str, Recipe] = {
    "deeplabv1": Recipe(
        model="deeplabv1",
        title="DeepLab-LargeFOV (v1), VGG-16, step schedule",
        dataset=Cited("voc_aug", _V1_DATA),
        backbone=Cited("vgg16", f"{_V1_PAPER} ('we employ the VGG-16 network which has been pre-trained on "
                                "ImageNet'); LargeFOV: v1 §5 'Field of View', Table 2"),
        width=Cited(1.0, "VGG-16 at its published width (v1 §5)"),
        blocks=Cited(None, "VGG-16 has no residual stages"),
        dropout=Cited(0.5, f"{_CAFFE_VGG} (drop6_*, drop7_*: dropout_ratio 0.5, VGG-16's fc6/fc7 dropout)",
                      SECONDARY),
        initialisation=Cited("imagenet", f"{_V1_PAPER} ('pre-trained on ImageNet')"),
        optimizer=Cited("SGD", f"{_V1_PAPER} ('stochastic gradient descent on the cross-entropy loss')"),
        lr=Cited(0.001, f"{_V1_PAPER} ('initial learning rate of 0.001'); {_RLX_V1} line 29"),
        head_lr_mult=Cited(10.0, f"{_V1_PAPER} ('0.01 for the final classifier layer'); "
                                 f"{_RLX_V1_TRAIN} line 162 (10 × lr for conv8)"),
        head_layers=Cited(("fc8",), f"{_V1_PAPER} ('the final classifier layer'); {_RLX_V1_TRAIN} lines "
                                    "49-70 (only conv8 at 10×/20×; fc6 and fc7, from VGG-16, at 1×)"),
        bias_lr_mult=Cited(2.0, f"{_CAFFE_VGG} (every bias: lr_mult 2; fc8_voc12_*: 20 = 2 × 10); "
                                f"{_RLX_V1_TRAIN} lines 157, 167", SECONDARY),
        bias_decay_mult=Cited(0.0, f"{_CAFFE_VGG} (every bias: decay_mult 0); {_RLX_V1_TRAIN} lines 157, 167",
                              SECONDARY),
        norm_decay_mult=Cited(1.0, f"VGG-16 has no BatchNorm; {_CAFFE_DEFAULT_DECAY}"),
        depthwise_decay_mult=Cited(1.0, f"VGG-16 has no depthwise convolution; {_CAFFE_DEFAULT_DECAY}"),
        schedule=Cited("step", f"{_V1_PAPER} ('multiplying the learning rate by 0.1 at every 2000 iterations')"),
        step_size=Cited(2000, f"{_V1_PAPER} ('by 0.1 at every 2000 iterations'); rulixiang's comment "
                              "(line 25) steps every 4000 instead"),
        gamma=Cited(0.1, f"{_V1_PAPER} ('multiplying the learning rate by 0.1')"),
        momentum=Cited(0.9, f"{_V1_PAPER} ('momentum of 0.9'); {_RLX_V1} line 31"),
        weight_decay=Cited(5e-4, f"{_V1_PAPER} ('a weight decay of 0.0005'); {_RLX_V1} line 30"),
        batch_size=Cited(20, f"{_V1_PAPER} ('a mini-batch of 20 images'); {_RLX_V1} line 23"),
        crop_size=Cited(321, "v3 (arXiv 1706.05587) appendix A ('crop size (i.e., 321 as in [10, 11])', "
                             f"[10] = v1); {_RLX_V1} line 16"),
        iterations=Cited(6000, f"{_RLX_V1} line 24 ('6000 for step scheduler'; the v1 paper's §5 does "
                               "not state it; v2 Table 2's step-schedule row trains 6K iterations, but at "
                               "batch 30, not v1's 20)", SECONDARY),
        scale=Cited((1.0, 1.0), f"{_V1_PAPER} names no random scaling (v2 adds it); rulixiang's "
                                "re-implementation adds 0.5-1.5 (line 27)"),
        output_stride=Cited(8, "v1 §3.1 (VGG-16 with the last two poolings made dense), as summarised for v2 "
                               "in the code index", SECONDARY),
        eval_output_stride=Cited(8, "v1 §3.1", SECONDARY),
        loss=Cited("downsampled", "v3 §4.1 ('In our previous works [10, 11], the target groundtruths are "
                                  f"downsampled by 8 during training'); {_RLX_V1_TRAIN} line 198"),
        batchnorm=Cited("none", "VGG-16 has no BatchNorm", READ),
        bn_momentum=Cited(None, "VGG-16 has no BatchNorm"),
        notes="Test time: scores bilinearly upsampled, then the dense CRF (crf.params.PUBLISHED).",
    ),
    "deeplabv2": Recipe(
        model="deeplabv2",
        title="DeepLab v2, ResNet-101 + ASPP-L, poly schedule",
        dataset=Cited("voc_aug", f"v2 (TPAMI 2017) §4.1 (trainaug, 10,582 images), as summarised in the code "
                                 f"index; {_KAZ_CFG} (SPLIT.TRAIN train_aug)", SECONDARY),
        backbone=Cited("resnet101", f"{_KAZ_CFG} lines 31-33 (DeepLabV2_ResNet101_MSC, N_BLOCKS [3, 4, 23, 3])"),
        width=Cited(1.0, f"ResNet-101 at its published width; {_KAZ_CFG} lines 31-33"),
        blocks=Cited(_RESNET101, f"{_KAZ_CFG} lines 31-33 (N_BLOCKS [3, 4, 23, 3])"),
        dropout=Cited(None, "ResNet-101's ASPP: one 3×3 atrous convolution to the classes per branch "
                            "(kazuto1011/deeplab-pytorch libs/models/deeplabv2.py)", SECONDARY),
        initialisation=Cited("imagenet", "v2 §4.1 (ResNet-101 pre-trained on ImageNet), as summarised in the "
                                         f"code index; the release's best model is further pre-trained on "
                                         f"MS-COCO ({_KAZ_README} 'In accordance with the papers')", SECONDARY),
        optimizer=Cited("SGD", f"{_KAZ_CFG} line 47 (OPTIMIZER: sgd); {_KAZ_MAIN} lines 161-181"),
        lr=Cited(2.5e-4, f"{_KAZ_CFG} line 45 (LR: 2.5e-4); {_KAZ_README} line 220"),
        head_lr_mult=Cited(10.0, f"{_KAZ_MAIN} line 171 (10 × LR for the ASPP weights, lines 56-61)"),
        head_layers=Cited(("fc8",), f"{_KAZ_MAIN} lines 48-67: the ASPP convolutions only (here each "
                                    "ASPP branch's fc8); the ResNet at 1×"),
        bias_lr_mult=Cited(2.0, f"{_KAZ_MAIN} lines 62-67, 174-178 (ASPP biases 20× = 2 × 10×); {_CAFFE_VGG} "
                                "(every bias lr_mult 2, fc8_voc12_* 20); the ResNet's convolutions have no bias"),
        bias_decay_mult=Cited(0.0, f"{_KAZ_MAIN} lines 174-178 (biases: weight decay 0); {_CAFFE_VGG} "
                                   "(every bias decay_mult 0)"),
        norm_decay_mult=Cited(1.0, f"BatchNorm frozen ({_KAZ_README} lines 267-270): γ, β never update; "
                                   f"{_CAFFE_DEFAULT_DECAY}"),
        depthwise_decay_mult=Cited(1.0, f"ResNet-101 has no depthwise convolution; {_CAFFE_DEFAULT_DECAY}"),
        schedule=Cited("poly", f"{_KAZ_CFG} line 48 (POLY_POWER); {_KAZ_README} line 220; v2 §4.1.2 "
                               f"(poly, batch 10, 20K iterations) as summarised with line references in the code "
                               f"index"),
        power=Cited(0.9, f"{_KAZ_CFG} line 48 (POLY_POWER: 0.9)"),
        momentum=Cited(0.9, f"{_KAZ_CFG} line 46"),
        weight_decay=Cited(5e-4, f"{_KAZ_CFG} line 49"),
        batch_size=Cited(10, f"{_KAZ_CFG} lines 38, 41 (5 images × ITER_SIZE 2); {_KAZ_README} line 219"),
        crop_size=Cited(321, f"{_KAZ_CFG} line 27 (SIZE.TRAIN: 321); v3 appendix A ('321 as in [10, 11]', "
                             "[11] = v2)"),
        iterations=Cited(20_000, f"{_KAZ_CFG} line 40 (ITER_MAX: 20000); {_KAZ_README} line 165 "
                                 "(the release's train2_iter_20000.caffemodel)"),
        scale=Cited((0.5, 1.5), f"{_KAZ_CFG} line 11 (SCALES 0.5 … 1.5); {_KAZ_README} line 222"),
        output_stride=Cited(8, "v2 (TPAMI 2017) §3.1; kazuto1011/deeplab-pytorch libs/models/deeplabv2.py "
                               "line 41 ('Output stride is fixed at 8')", SECONDARY),
        eval_output_stride=Cited(8, "v2 (TPAMI 2017) §3.1", UNREAD),
        loss=Cited("downsampled", f"v3 §4.1 ('groundtruths are downsampled by 8' in [10, 11]); {_KAZ_README} "
                                  "line 218 (loss per scale on labels resized to the logits)"),
        batchnorm=Cited("frozen", f"{_KAZ_README} lines 267-270 (v2 training freezes BatchNorm)"),
        bn_momentum=Cited(None, f"frozen BatchNorm: the running statistics never update ({_KAZ_README} "
                                "lines 267-270)"),
        notes=("Multi-scale inputs (1, 0.75, 0.5) with max fusion in training (README line 218); "
               "initialised from the COCO-trained release (README 'In accordance with the papers'). "
               "The VGG-16 v2 solver seen in a fork (talent518/deeplab-public-ver2 "
               "exper/voc12/config/vgg16/solver_train.prototxt) uses base_lr 1e-3, poly 0.9, 20000 "
               "iterations: unverified against the original release."),
    ),
    "deeplabv3": Recipe(
        model="deeplabv3",
        title="DeepLab v3, ResNet-101, ASPP with image pooling, poly schedule",
        dataset=Cited("voc_aug", f"{_V3_PAPER} ('on the trainaug set with 30K iterations')"),
        backbone=Cited("resnet101", f"{_V3_PAPER} ('Our added modules on top of ResNet'); §4.3, Table 5 "
                                    "(ResNet-101, Multi-Grid (1, 2, 4), ASPP (6, 12, 18), image pooling)"),
        width=Cited(1.0, f"ResNet-101 at its published width ({_V3_PAPER}, Table 5)"),
        blocks=Cited(_RESNET101, "ResNet-101 (v3 §4.3, Table 5): 3, 4, 23, 3 units per stage"),
        dropout=Cited(0.1, f"{_TF_MODEL} (slim.dropout(concat_logits, keep_prob=0.9) after the ASPP projection)"),
        initialisation=Cited("imagenet", "v3 §4 (ResNet-101 pre-trained on ImageNet); the test-set model is "
                                         "pre-trained on MS-COCO besides (§4.3)", SECONDARY),
        optimizer=Cited("SGD", f"{_TF_TRAIN} (tf.train.MomentumOptimizer(learning_rate, FLAGS.momentum))"),
        lr=Cited(0.007, f"{_V3_PAPER} ('initial learning rate = 0.007'); {_TF_TRAIN} comment above flag "
                        "base_learning_rate ('Use 0.007 when training on PASCAL augmented training set')"),
        head_lr_mult=Cited(1.0, f"{_TF_TRAIN} flag last_layer_gradient_multiplier (default 1.0): no 10× head"),
        head_layers=Cited((), f"{_TF_TRAIN} flag last_layer_gradient_multiplier = 1.0"),
        bias_lr_mult=Cited(1.0, f"{_TF_TRAIN}: one rate for every variable (gradient multipliers only "
                                "through last_layer_gradient_multiplier)"),
        bias_decay_mult=Cited(0.0, _TF_NO_BIAS_DECAY),
        norm_decay_mult=Cited(0.0, _TF_NO_NORM_DECAY),
        depthwise_decay_mult=Cited(1.0, "ResNet-101 and v3's ASPP have no depthwise convolution"),
        schedule=Cited("poly", f"{_TF_TRAIN} flag learning_policy (default 'poly')"),
        power=Cited(0.9, f"{_TF_TRAIN} flag learning_power (default 0.9)"),
        momentum=Cited(0.9, f"{_TF_TRAIN} flag momentum (default 0.9)"),
        weight_decay=Cited(1e-4, f"{_TF_TRAIN} comment above flag weight_decay ('Use 0.0001 for ResNet "
                                 "model variants')"),
        batch_size=Cited(16, f"{_V3_PAPER} ('batch normalization statistics with a batch size of 16'); "
                             f"{_TF_TRAIN} comment above flag train_batch_size"),
        crop_size=Cited(513, f"{_V3_PAPER} ('crop size to be 513'); {_TF_TRAIN} flag train_crop_size"),
        iterations=Cited(30_000, f"{_V3_PAPER} ('on the trainaug set with 30K iterations'); {_TF_TRAIN} "
                                 "flag training_number_of_steps (default 30000)"),
        scale=Cited((0.5, 2.0), f"{_V3_PAPER} ('randomly scaling the input images (from 0.5 to 2.0)'); "
                                f"{_TF_TRAIN} flags min/max_scale_factor (scale_factor_step_size 0.25)"),
        output_stride=Cited(16, f"{_V3_PAPER} ('we employ output stride = 16'); {_TF_TRAIN} flag output_stride"),
        eval_output_stride=Cited(8, f"{_V3_PAPER} §4.2 ('during inference we apply output stride = 8'); "
                                    "§4.1 (then frozen BN, output stride 8 on trainval)"),
        loss=Cited("upsampled", f"{_V3_PAPER} ('Upsampling logits': keep the groundtruths intact); {_TF_TRAIN} "
                                "flag upsample_logits"),
        batchnorm=Cited("train", f"{_V3_PAPER} ('trained with decay = 0.9997', PyTorch momentum 0.0003); "
                                 f"{_TF_TRAIN} flag fine_tune_batch_norm (default True)"),
        bn_momentum=Cited(3e-4, f"{_V3_PAPER} ('batch normalization parameters are trained with decay = "
                                f"0.9997'): PyTorch momentum 1 − 0.9997; {_TF_MODEL} (ASPP, decoder: decay "
                                f"0.9997). The TF code's ResNet arg scope uses 0.95 in the backbone "
                                f"({_TF_FEATURES} batch_norm_decay=0.95); the book follows the paper"),
        notes=("Second stage (v3 §4.1): freeze BN, output stride 8, another 30K iterations on VOC "
               "trainval at base lr 0.001 (train.py's comment says 0.0001 when fine-tuning on trainval). "
               "TF's random scale is drawn in steps of 0.25; the v3 paper states no weight decay."),
    ),
    "deeplabv3plus": Recipe(
        model="deeplabv3plus",
        title="DeepLab v3+, aligned Xception-65, separable ASPP + decoder, poly schedule",
        dataset=Cited("voc_aug", f"{_V3P_SUMMARY} (trainaug)", SECONDARY),
        backbone=Cited("xception65", f"{_TF_COMMON} flag model_variant ('xception_65' with atrous_rates "
                                     "[6, 12, 18], decoder_output_stride 4)"),
        width=Cited(1.0, f"Xception-65 at its published width ({_TF_XCEPTION} xception_65)"),
        blocks=Cited(None, "Xception-65 has no ResNet stages (entry, middle, exit flows)"),
        dropout=Cited(0.1, f"{_TF_MODEL} (slim.dropout(concat_logits, keep_prob=0.9) after the ASPP projection)"),
        initialisation=Cited("imagenet", f"{_V3P_SUMMARY} (Xception-65 pre-trained on ImageNet-1k)", SECONDARY),
        optimizer=Cited("SGD", f"{_TF_TRAIN} (tf.train.MomentumOptimizer)"),
        lr=Cited(0.007, f"{_TF_TRAIN} comment above flag base_learning_rate; {_V3P_SUMMARY}"),
        head_lr_mult=Cited(1.0, f"{_TF_TRAIN} flag last_layer_gradient_multiplier (default 1.0)"),
        head_layers=Cited((), f"{_TF_TRAIN} flag last_layer_gradient_multiplier = 1.0"),
        bias_lr_mult=Cited(1.0, f"{_TF_TRAIN}: one rate for every variable"),
        bias_decay_mult=Cited(0.0, _TF_NO_BIAS_DECAY),
        norm_decay_mult=Cited(0.0, f"{_TF_NO_NORM_DECAY}; {_TF_XCEPTION} xception_arg_scope (the same)"),
        depthwise_decay_mult=Cited(0.0, f"{_TF_XCEPTION} xception_arg_scope (regularize_depthwise=False: no "
                                        f"regulariser on separable_conv2d); {_TF_MODEL} _split_separable_conv2d "
                                        "(depthwise weights_regularizer=None)"),
        schedule=Cited("poly", f"{_TF_TRAIN} flag learning_policy"),
        power=Cited(0.9, f"{_TF_TRAIN} flag learning_power"),
        momentum=Cited(0.9, f"{_TF_TRAIN} flag momentum"),
        weight_decay=Cited(4e-5, f"{_TF_TRAIN} comment above flag weight_decay ('use 0.00004 for "
                                 "MobileNet-V2 or Xception model variants')"),
        batch_size=Cited(16, f"{_V3P_SUMMARY}", SECONDARY),
        crop_size=Cited(513, f"{_TF_TRAIN} flag train_crop_size"),
        iterations=Cited(30_000, f"{_TF_TRAIN} flag training_number_of_steps; {_V3P_SUMMARY}"),
        scale=Cited((0.5, 2.0), f"{_TF_TRAIN} flags min_scale_factor, max_scale_factor"),
        output_stride=Cited(16, f"{_TF_TRAIN} flag output_stride; comment above flag atrous_rates"),
        eval_output_stride=Cited(16, "v3+ Table 5 'Inference strategy ... when using modified Xception' reports "
                                     "eval output stride 16 and 8 for train OS 16 (published.TABLES"
                                     "['v3plus_xception'], read in two transcriptions); the book follows the "
                                     "OS-16 rows (module docstring)"),
        loss=Cited("upsampled", f"{_TF_TRAIN} flag upsample_logits"),
        batchnorm=Cited("train", f"{_TF_TRAIN} flag fine_tune_batch_norm; {_TF_MODEL} decay 0.9997"),
        bn_momentum=Cited(3e-4, f"{_TF_FEATURES} (xception: batch_norm_decay=0.9997); {_TF_XCEPTION} "
                                f"xception_arg_scope; {_TF_MODEL} (ASPP, decoder: 'decay': 0.9997): "
                                "PyTorch momentum 1 − 0.9997"),
        notes="With a ResNet-101 backbone the TF code's comment asks weight decay 1e-4 instead.",
    ),
}

# CRF-as-RNN's release (Zheng et al., ICCV 2015) trains its MultiStageMeanfield layer's three
# blobs far faster than the network below: the rates are multiples of the solver's base rate.
CRF_RNN_LR_MULT = Cited(
    {"spatial_ker_weights": 10_000, "bilateral_ker_weights": 10_000, "compatibility": 1_000},
    "torrvision/crfasrnn README.md (at 34c7dc2), the MultiStageMeanfield layer of its model definition: "
    "param { lr_mult: 10000 } ('learning rate for W_G', the spatial kernel weights), { lr_mult: 10000 } "
    "('W_B', bilateral), { lr_mult: 1000 } (the compatibility transform); no decay_mult, so Caffe's 1. "
    "The README does not give the solver's base rate these multiply")

# Each compared field: (attribute or derived name, label). The rows follow this order.
COMPARED: tuple[tuple[str, str], ...] = (
    ("dataset", "training set"), ("backbone", "backbone"), ("width", "width (× channels)"),
    ("blocks", "units per ResNet stage"), ("dropout", "dropout"), ("initialisation", "initial weights"),
    ("optimizer", "optimiser"), ("lr", "base learning rate"), ("head_lr_mult", "head learning-rate multiplier"),
    ("head_layers", "layers at the head's rate"), ("bias_lr_mult", "bias lr × (of its layer's)"),
    ("bias_decay_mult", "bias weight decay ×"), ("norm_decay_mult", "BatchNorm γ, β weight decay ×"),
    ("depthwise_decay_mult", "depthwise weight decay ×"),
    ("schedule", "schedule"), ("power", "poly power"), ("step_size", "step (iterations)"), ("gamma", "step factor γ"),
    ("momentum", "momentum"), ("weight_decay", "weight decay"), ("batch_size", "batch size"), ("crop_size", "crop"),
    ("iterations", "iterations"), ("scale", "random scale"), ("output_stride", "output stride (train)"),
    ("eval_output_stride", "output stride (evaluation)"), ("loss", "loss"), ("batchnorm", "BatchNorm"),
    ("bn_momentum", "BatchNorm momentum (PyTorch)"),
)
# This book's options that no paper's recipe has: (attribute, label, the paper's value).
EXTRAS: tuple[tuple[str, str, Any], ...] = (
    ("aux_weight", "auxiliary loss weight", 0.0),
    ("clip_grad_norm", "gradient-norm clip", None),
    ("crf_rnn", "CRF-as-RNN layer", None),
    ("crf_lr_mult", "CRF-as-RNN lr multiplier", None),
    ("model_options", "other model options", {}),
)
_OWN_ROWS = ("blocks", "dropout")  # model options with rows of their own
# TrainConfig fields the table leaves out, and why.
NOT_COMPARED: dict[str, str] = {
    "model": "chooses the recipe",
    "data_root": "where the data lies (the training-set row says which data)",
    "pretrained": "shown as the initial weights",
    "init_from": "shown as the initial weights",
    "accumulate": "the same batch in several passes: the same gradient",
    "amp": "execution: bf16 arithmetic on GPUs, not a choice of the recipe",
    "channels_last": "execution: memory layout only",
    "compile": "execution: the same arithmetic, compiled",
    "seed": "which random draw, not the recipe",
    "num_workers": "execution", "device": "execution", "out_dir": "execution", "log_every": "execution",
    "validate_every": "execution (scoring draws no training randomness)", "checkpoint_every": "execution",
    "resume": "execution", "overwrite": "execution", "progress": "execution",
    "stop_at": "ends a run early as a kill would; the table describes the run asked for",
}
_SCHEDULE_OF = {"power": "poly", "step_size": "step", "gamma": "step"}


def get_recipe(model: str) -> Recipe:
    """The published recipe for ``model`` (``deeplabv1`` … ``deeplabv3plus``)."""
    if model not in RECIPES:
        raise ValueError(f"no published recipe for model {model!r}; known: {sorted(RECIPES)}")
    return RECIPES[model]


def config_overrides(model: str) -> dict[str, Any]:
    """``TrainConfig`` keyword arguments that reproduce ``model``'s published recipe.

    ``TrainConfig.from_profile(model, get_profile("full"), **config_overrides(model))`` is the
    paper's run, parameter groups and BatchNorm momentum included. ``batchnorm="none"`` (VGG)
    maps to the engine's default, which has nothing to freeze. The data, the network's size and
    its starting weights are not overrides: the table lists them.
    """
    r = get_recipe(model)
    out: dict[str, Any] = dict(
        lr=r.lr.value, head_lr_mult=r.head_lr_mult.value, schedule=r.schedule.value,
        momentum=r.momentum.value, weight_decay=r.weight_decay.value, batch_size=r.batch_size.value,
        crop_size=r.crop_size.value, iterations=r.iterations.value, scale=tuple(r.scale.value),
        output_stride=r.output_stride.value, loss=r.loss.value,
        batchnorm="train" if r.batchnorm.value == "none" else r.batchnorm.value,
        bias_lr_mult=r.bias_lr_mult.value, bias_decay_mult=r.bias_decay_mult.value,
        norm_decay_mult=r.norm_decay_mult.value, depthwise_decay_mult=r.depthwise_decay_mult.value)
    if r.head_layers.value:
        out["head_layers"] = tuple(r.head_layers.value)
    if r.bn_momentum.value is not None:
        out["bn_momentum"] = r.bn_momentum.value
    out.update({name: getattr(r, name).value for name in _SCHEDULE_OF if getattr(r, name) is not None})
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(a)))
    return a == b


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}" if value else "—"
    return str(value)


def _resolved(config):
    """``config.resolved()`` (the backbone and output stride written out) where it has one."""
    try:
        return config.resolved()
    except (AttributeError, ValueError):
        return config


def _run_value(config, resolved, field: str, paper: Any) -> Any:
    """What the run does for ``field``, read from a duck-typed config (None where it says nothing)."""
    options = getattr(config, "model_options", None) or {}
    if field in _OWN_ROWS:  # an option left out is the model's default, the published network's
        value = options.get(field, paper)
        return tuple(value) if isinstance(value, list) else value
    if field == "initialisation":
        describe = getattr(config, "initialisation", None)
        return describe() if callable(describe) else describe
    if field in ("backbone", "output_stride"):
        return getattr(resolved, field, None)
    if field == "eval_output_stride":  # the engine scores a model at the stride it was built with
        return getattr(config, "eval_output_stride", None) or getattr(resolved, "output_stride", None)
    if field == "bn_momentum":
        if not hasattr(config, "bn_momentum"):
            return None
        no_bn = getattr(resolved, "backbone", None) == "vgg16" or getattr(config, "batchnorm", None) == "frozen"
        return None if no_bn else (0.1 if config.bn_momentum is None else config.bn_momentum)
    if field == "model_options":
        return {k: v for k, v in options.items() if k not in _OWN_ROWS}
    run = getattr(config, field, None)
    return tuple(run) if isinstance(run, list) else run


def comparison_rows(config, recipe: Recipe | str | None = None) -> list[dict[str, Any]]:
    """One row per field a run can differ in: ``field``, ``label``, ``paper``, ``run``, ``differs``,
    ``source``, ``checked``.

    ``config`` is duck-typed (``train.TrainConfig`` or anything with its attribute names); an
    attribute it lacks shows as None. A row is left out when it does not apply to the paper or
    the run: poly power for a step schedule, ResNet stages for VGG-16, BatchNorm momentum without
    BatchNorm, the book's own options (``EXTRAS``) when a run leaves them off.
    """
    if recipe is None:
        recipe = getattr(config, "model", None)
        if recipe is None:
            raise ValueError("config has no 'model' attribute: pass the recipe explicitly")
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    resolved = _resolved(config)
    run_schedule = getattr(config, "schedule", None)
    rows = []
    for field, label in COMPARED:
        cited = getattr(recipe, field)
        paper = None if cited is None else cited.value
        run = _run_value(config, resolved, field, paper)
        if field in _SCHEDULE_OF:
            if cited is None and run_schedule != _SCHEDULE_OF[field]:
                continue
            if run_schedule != _SCHEDULE_OF[field]:
                run = None
        if field == "head_layers":
            if not paper and run is None:  # one rate for every layer, in both
                continue
            run = tuple(run) if run is not None else ("whole head",)
        if field == "batchnorm" and paper == "none":
            run = "none" if getattr(resolved, "backbone", None) == "vgg16" else run
        if paper is None and run is None:
            continue
        rows.append(dict(field=field, label=label, paper=paper, run=run, differs=not _same(paper, run),
                         source="—" if cited is None else cited.source,
                         checked="—" if cited is None else cited.checked))
    for field, label, paper in EXTRAS:
        run = _run_value(config, resolved, field, paper)
        if run is None or _same(paper, run):
            continue
        rows.append(dict(field=field, label=label, paper=paper, run=run, differs=True,
                         source="an option of this book; no paper's recipe has it", checked="—"))
    return rows


def differences(config, recipe: Recipe | str | None = None) -> list[str]:
    """The fields in which ``config`` departs from the published recipe."""
    return [row["field"] for row in comparison_rows(config, recipe) if row["differs"]]


_MARK = {SECONDARY: "secondary", UNREAD: "UNREAD"}


def format_comparison(config, recipe: Recipe | str | None = None, sources: bool = False,
                      departures_only: bool = False) -> str:
    """A plain-text "paper | this run" table; ``≠`` marks a departure, and the last column each
    paper number not read in its source (``secondary``, ``UNREAD``). ``sources`` adds them;
    ``departures_only`` keeps only the ``≠`` rows (a reader who has seen one whole table)."""
    rows = [r for r in comparison_rows(config, recipe) if r["differs"] or not departures_only]
    head = ["", "paper", "this run", "", "paper's number"] + (["source"] if sources else [])
    body = [[r["label"], _show(r["paper"]), _show(r["run"]), "≠" if r["differs"] else "",
             _MARK.get(r["checked"], "")] + ([r["source"]] if sources else []) for r in rows]
    widths = [max(len(line[i]) for line in [head] + body) for i in range(len(head))]
    fmt = lambda line: " | ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(head), "-+-".join("-" * w for w in widths)] + [fmt(line) for line in body])



__all__ = ["CHECKS", "COMPARED", "CRF_RNN_LR_MULT", "Cited", "EXTRAS", "NOT_COMPARED", "READ", "RECIPES",
           "Recipe", "SECONDARY", "UNREAD", "comparison_rows", "config_overrides", "differences",
           "format_comparison", "get_recipe"]

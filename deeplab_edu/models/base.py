"""What every DeepLab model shares: scores at the output stride, upsampled to the input.

DeepLab scores a grid ``output_stride`` times coarser than the image and upsamples bilinearly
(v1, ICLR 2015, §3.1: "we simply bilinearly interpolate ... rather than learn a
deconvolution"): ``forward_scores`` is the coarse map, ``forward`` (the inference answer) the
logits at the input's size.

**The training contract.** Every model and wrapper answers ``training_outputs(x)`` with one
``TrainingOutput``, all the engine reads: ``out``, the scores the loss compares with the labels;
``aux``, v3's auxiliary head's (torchvision's ``"aux"``) or None; ``scales``, v2's per-scale
scores besides their fusion ``out`` (v2 §4.1: the loss sums every scale and the fusion).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from deeplab_edu import receptive_field as rf
from deeplab_edu.layouts import check_output_stride, scaled

__all__ = ["ModelWrapper", "SegmentationModel", "TrainingOutput", "check_images", "check_output_stride", "prefixed",
           "scaled", "upsample"]


@dataclasses.dataclass
class TrainingOutput:
    """What a model gives the training loss (see the module docstring)."""

    out: torch.Tensor
    aux: torch.Tensor | None = None
    scales: list[torch.Tensor] = dataclasses.field(default_factory=list)

    def score_maps(self) -> list[torch.Tensor]:
        """The maps the loss is summed over: each scale's (MSC only), then ``out``."""
        return [*self.scales, self.out]


def check_images(x: torch.Tensor) -> None:
    """A ValueError naming the expected shape unless ``x`` is an (N, 3, H, W) float batch."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (N, 3, H, W), got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"x must have shape (N, 3, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor (normalised images), got {x.dtype}")


def upsample(scores: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Bilinear upsampling with ``align_corners=False``, as torchvision's DeepLab does."""
    return F.interpolate(scores, size=tuple(size), mode="bilinear", align_corners=False)


def prefixed(specs: list[rf.Layer], prefix: str) -> list[rf.Layer]:
    """The same layer specs, named from the model's root (``classifier.0.convs.3`` …)."""
    return [dataclasses.replace(spec, name=f"{prefix}.{spec.name}") for spec in specs]


class SegmentationModel(nn.Module):
    """Base class: ``backbone`` + head. Subclasses define ``forward_scores`` and ``layer_specs``.

    Every model sets ``output_stride`` (the encoder's, the papers' meaning), ``score_stride`` (of
    ``forward_scores``: the same, except 4 for v3+'s decoder), ``num_classes`` and
    ``global_context`` (True when image pooling sees the whole image).
    """

    output_stride: int
    score_stride: int
    num_classes: int
    global_context: bool = False

    def forward_scores(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x)
        return upsample(self.forward_scores(x), x.shape[-2:])

    def training_outputs(self, x: torch.Tensor) -> TrainingOutput:
        """The scores at ``score_stride`` for the loss; models with more to train override this."""
        return TrainingOutput(self.forward_scores(x))

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Pretrained backbone vs freshly initialised head (DeepLab trains the head at 10× the LR)."""
        backbone = [p for p in self.backbone.parameters() if p.requires_grad]
        ids = {id(p) for p in backbone}
        head = [p for p in self.parameters() if p.requires_grad and id(p) not in ids]
        return {"backbone": backbone, "head": head}

    def layer_specs(self) -> list[rf.Layer]:  # pragma: no cover - abstract
        raise NotImplementedError

    def receptive_field(self) -> int:
        """The convolutional path's field of one score, in input pixels (with ``global_context``,
        image pooling also sees every pixel)."""
        return rf.receptive_field(self.layer_specs())


class ModelWrapper(SegmentationModel):
    """A model around ``base``, with its classes, strides, global context, backbone and layer specs."""

    def __init__(self, base: SegmentationModel) -> None:
        super().__init__()
        self.base = base
        self.num_classes, self.global_context = base.num_classes, base.global_context
        self.output_stride, self.score_stride = base.output_stride, base.score_stride

    @property
    def backbone(self) -> nn.Module:  # parameter_groups() and the weight loaders read it
        return self.base.backbone

    def layer_specs(self) -> list[rf.Layer]:
        return self.base.layer_specs()

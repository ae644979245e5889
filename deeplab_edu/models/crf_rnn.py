"""A DeepLab with CRF-as-RNN on top, trained as one network (Zheng et al., ICCV 2015, §4–5).

The network's logits at the image's size are the unaries of ``crf.crf_rnn.CRFasRNN``; the loss
on its refined scores reaches the CRF's weights and, through the unaries, the network.
``forward_scores`` and ``training_outputs`` are the CRF's scores, at stride 1; the network's own
are ``segmenter.model(x)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from deeplab_edu import receptive_field as rf
from deeplab_edu.crf.crf_rnn import CRFasRNN
from deeplab_edu.models.base import SegmentationModel


class CRFRNNSegmenter(SegmentationModel):
    """``model`` with a :class:`CRFasRNN` layer on its output; ``to_rgb`` maps the (normalised)
    input back to colours 0–255 for the appearance kernel."""

    score_stride = 1

    def __init__(self, model: SegmentationModel, crf: CRFasRNN,
                 to_rgb: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        if crf.num_classes != model.num_classes:
            raise ValueError(f"the CRF has {crf.num_classes} classes but the model {model.num_classes}")
        self.model, self.crf, self.to_rgb = model, crf, to_rgb
        self.num_classes, self.output_stride = model.num_classes, model.output_stride
        self.global_context = model.global_context

    @property
    def backbone(self) -> nn.Module:  # the weight loaders read it
        return self.model.backbone

    def forward_scores(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            rgb = self.to_rgb(x)
        return self.crf(self.model(x), rgb)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """The model's groups (backbone / head) plus ``"crf"`` for the kernel weights and μ."""
        return {**self.model.parameter_groups(), "crf": list(self.crf.parameters())}

    def layer_specs(self) -> list[rf.Layer]:
        return self.model.layer_specs()

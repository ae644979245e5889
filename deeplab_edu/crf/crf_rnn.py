"""CRF-as-RNN: mean-field inference as layers of the network, trained end to end.

Zheng et al., *Conditional Random Fields as Recurrent Neural Networks* (ICCV 2015), §4: one
mean-field iteration of the dense CRF is a stack of differentiable operations —

    message passing      Q̃_m = Σ_j k_m(f_i, f_j) Q_j        (Gaussian filtering, here on a lattice)
    weighting filters    Q̌ = w1 · Q̃_1 + w2 · Q̃_2              (appearance, smoothness)
    compatibility        Q̂(l) = Σ_{l'} μ(l, l') Q̌(l')         (a 1×1 convolution, C → C)
    adding unaries       Ǔ = U − Q̂                           (U = the network's scores)
    normalising          Q = softmax(Ǔ)

— so T iterations are an RNN whose hidden state is Q, and back-propagation reaches the unaries
(hence the network below), the kernel weights w1, w2 and the compatibility μ. σα, σβ, σγ stay
fixed (the lattice is not differentiable in the features), as in the paper. Zheng et al. train
with T = 5 and test with T = 10; μ starts as Potts, μ = [l ≠ l'], and learns, for instance, that
some label pairs are likelier neighbours than others.

:class:`CRFasRNN` is the layer; :class:`CRFRNNSegmenter` puts it on top of a segmentation model.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .energy import CONVENTIONS
from .lattice_meanfield import CRFKernels, mean_field_scores, potts_compatibility
from .params import CRFParams

__all__ = ["CRFRNNSegmenter", "CRFasRNN"]


class CRFasRNN(nn.Module):
    """T mean-field iterations as a layer: (scores, image) → refined scores, both (B, C, H, W).

    ``scores`` are the network's logits (the unaries are θ = −scores: softmax(scores) is the
    network's P). ``image`` is (B, 3, H, W) with colours 0–255. The output is the last
    iteration's pre-softmax scores, so ``cross_entropy(output, target)`` trains through the CRF
    and ``output.softmax(1)`` is Q. With ``learn_weights`` w1, w2 are parameters (initialised
    from ``params``); with ``learn_compatibility`` so is μ (initialised to Potts).
    """

    def __init__(self, num_classes: int, params: CRFParams | None = None, *,
                 learn_weights: bool = True, learn_compatibility: bool = True,
                 convention: str = "densecrf"):
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
        params = CRFParams() if params is None else params
        if not isinstance(params, CRFParams):
            raise TypeError(f"params must be a CRFParams, got {type(params).__name__}")
        if convention not in CONVENTIONS:
            raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
        self.num_classes, self.params, self.convention = num_classes, params, convention
        self.iterations = int(params.iterations)
        weights = torch.tensor([float(params.w1), float(params.w2)])
        if learn_weights:
            self.kernel_weights = nn.Parameter(weights)
        else:
            self.register_buffer("kernel_weights", weights)
        if learn_compatibility:
            self.compatibility = nn.Parameter(potts_compatibility(num_classes))
        else:
            self.register_buffer("compatibility", None)  # None: the Potts shortcut

    def forward(self, scores: torch.Tensor, image: torch.Tensor,
                iterations: int | None = None) -> torch.Tensor:
        if scores.dim() != 4 or scores.shape[1] != self.num_classes:
            raise ValueError(f"scores must be (batch, {self.num_classes}, H, W), got {tuple(scores.shape)}")
        if image.dim() != 4 or image.shape[1] != 3 or image.shape[2:] != scores.shape[2:] \
                or image.shape[0] != scores.shape[0]:
            raise ValueError(f"image must be (batch, 3, H, W) matching scores {tuple(scores.shape)}, "
                             f"got {tuple(image.shape)}")
        iterations = self.iterations if iterations is None else iterations
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
            raise ValueError(f"iterations must be a non-negative integer, got {iterations!r}")
        batch, c, height, width = scores.shape
        dtype = scores.dtype
        # The lattice's sparse kernels take float32 / float64 only: bf16 autocast scores are
        # promoted here and the refined scores handed back in their own precision.
        work = scores if dtype in (torch.float32, torch.float64) else scores.float()
        unary = work.permute(0, 2, 3, 1).reshape(batch, height * width, c)  # −θ, one row per pixel
        out = unary
        if iterations > 0:
            kernels = CRFKernels(image.detach().to(scores.device), self.params, self.convention)
            w1, w2 = self.kernel_weights.to(work.dtype)
            compatibility = None if self.compatibility is None else self.compatibility.to(work.dtype)
            for _ in range(iterations):
                out = mean_field_scores(torch.softmax(out, -1), -unary, kernels, w1, w2, compatibility)
        return out.reshape(batch, height, width, c).permute(0, 3, 1, 2).to(dtype)

    def extra_repr(self) -> str:
        p = self.params
        return (f"num_classes={self.num_classes}, iterations={self.iterations}, σα={p.sigma_alpha:g}, "
                f"σβ={p.sigma_beta:g}, σγ={p.sigma_gamma:g}, convention={self.convention!r}")


class CRFRNNSegmenter(nn.Module):
    """A segmentation model with a :class:`CRFasRNN` layer on its output, trained as one network.

    ``to_rgb`` maps the model's input batch (normalised, as the datasets yield it) back to
    colours 0–255 for the CRF's appearance kernel.
    """

    def __init__(self, model: nn.Module, crf: CRFasRNN,
                 to_rgb: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__()
        self.model, self.crf, self.to_rgb = model, crf, to_rgb

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            rgb = self.to_rgb(x)
        return self.crf(self.model(x), rgb)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """The model's groups (backbone / head, if it has them) plus ``"crf"`` for w1, w2, μ."""
        groups = (self.model.parameter_groups() if hasattr(self.model, "parameter_groups")
                  else {"head": list(self.model.parameters())})
        return {**groups, "crf": list(self.crf.parameters())}

    def __getattr__(self, name: str):
        # Expose the wrapped model's attributes (output_stride, receptive_field, ...), but not
        # its score methods: the training engine calls forward_scores, which would skip the CRF.
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name in ("forward_scores", "forward_all_scales"):
                raise AttributeError(f"CRFRNNSegmenter has no {name}: its output is the CRF's, "
                                     "call the segmenter itself (model(x))") from None
            model = self.__dict__.get("_modules", {}).get("model")
            if model is None:  # half-built (copying, unpickling): no model to ask yet
                raise
            return getattr(model, name)

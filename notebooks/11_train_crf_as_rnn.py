# %% [markdown]
# # 11 · A fast, differentiable dense CRF, and CRF-as-RNN
#
# DeepLab v1 and v2 put a fully-connected CRF *after* the network (chapter 04): the network
# scores every pixel, the CRF sharpens those scores along image edges, and its five
# parameters (w1, σα, σβ, w2, σγ) are cross-validated on held-out images with the network
# frozen. Two things limit that recipe:
#
# * **speed** — pydensecrf runs on one CPU core only, so every setting of a cross-validation grid
#   costs a full pass over the validation set on that core, and a GPU cannot help;
# * **no gradient** — the CRF cannot tell the network what would have helped it, because the
#   network is trained as if the CRF did not exist.
#
# This chapter fixes both. First the **permutohedral lattice** (Adams, Baek & Davis 2010), the
# trick inside pydensecrf, written in plain PyTorch so that it runs on any device and
# back-propagates. Then **CRF-as-RNN** (Zheng et al., ICCV 2015): mean-field iterations
# unrolled as layers of the network, trained end to end, learning the kernel weights and a
# label compatibility matrix. Finally the two are compared on the built-in dataset: the same
# small DeepLab, with the CRF as post-processing and with the CRF inside the network.
#
# | module | what it holds |
# |---|---|
# | `crf/permutohedral.py` | the lattice: embed, splat, blur, slice; a loop version and the vectorised one |
# | `crf/lattice_meanfield.py` | mean-field on the lattice, `dense_crf(..., method="lattice")` |
# | `crf/crf_rnn.py` | `CRFasRNN` (the layer) and `CRFRNNSegmenter` (a model with the layer on top) |

# %%
# %matplotlib inline
import copy
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm.auto import tqdm

from deeplab_edu import paths, profiles, runtime
from deeplab_edu.crf import CRFParams, coarse_scores, dense_crf
from deeplab_edu.crf.crf_rnn import CRFasRNN, CRFRNNSegmenter
from deeplab_edu.crf.lattice_meanfield import dense_crf_lattice
from deeplab_edu.crf.search import evaluate_crf, grid_search
from deeplab_edu.datasets import EvalTransform, TrainTransform, build_dataset, denormalize, synthetic
from deeplab_edu.schedules import make_optimizer, make_scheduler
from deeplab_edu.train import TrainConfig, train, upsampled_loss
from deeplab_edu.viz.crf_rnn import (lattice_impulse_response, plot_compatibility,
                                     plot_lattice_kernel, plot_segmentations)

generator = runtime.seed_everything(0)
profile = profiles.get_profile()
device = runtime.default_device()
print(f"profile {profile.name}: {profile.iterations} training iterations, crop {profile.crop_size}, "
      f"width x{profile.width:g}")

# %% [markdown]
# ## 1 · Gaussian filtering in high dimensions
#
# One mean-field step needs, for every pixel i and label l, the message
# Σ_j k(f_i, f_j) Q_j(l) with the Gaussian k(f_i, f_j) = exp(−½‖f_i − f_j‖²) over **every**
# other pixel j. The features f are the pixel's position and colour divided by the kernel's
# bandwidths: (x/σα, y/σα, R/σβ, G/σβ, B/σβ) for the appearance kernel, (x/σγ, y/σγ) for the
# smoothness kernel. Summed directly that is N² terms: 3.5·10¹⁰ for one 500 × 375 image.
#
# A Gaussian filter is a blur, and a blur can be computed on a coarse grid: drop every value
# onto nearby grid points, blur the grid, read the values back. In 5 dimensions an ordinary grid
# has 2⁵ = 32 corners around each point; the **permutohedral lattice** tiles space with
# simplices instead, so each point has only d + 1 = 6 neighbours, and the grid only exists where
# there are points. `PermutohedralLattice(features)` does the four steps:
#
# 1. **embed** — lift each f into the plane Σx = 0 of R^{d+1}, scaled so the blur below has the
#    Gaussian's spread, and find the simplex around it: its d + 1 vertices and barycentric weights;
# 2. **splat** — every vertex accumulates the weighted values of the pixels around it;
# 3. **blur** — along each of the d + 1 lattice directions in turn, with the kernel [½, 1, ½];
# 4. **slice** — every pixel reads back the weighted sum of its simplex's vertices.
#
# The lattice is built once per image (steps 1, and the hashing of vertices) and reused by every
# mean-field iteration (steps 2–4, all linear). `permutohedral_filter_reference` is the same
# algorithm with Python loops and a dictionary, and `tests/test_crf_lattice.py` holds the two
# equal. The result is an *approximation* of the Gaussian filter. Here is its kernel, the response
# to a single bright pixel, next to the exact Gaussian's:

# %%
sigma = 4.0
plot_lattice_kernel(sigma=sigma)
plt.show()

# %% [markdown]
# The lattice's kernel is piecewise linear, flatter at its peak, and carries less mass than the
# Gaussian; its spread is close. The cell below measures both against the exact kernel:

# %% tags=["nbval-check-output"]
lattice, exact = lattice_impulse_response(sigma=sigma, size=41)
offsets = np.arange(41) - 20
for name, kernel in (("exact", exact), ("lattice", lattice)):
    marginal = kernel.sum(0)
    variance = (marginal * offsets**2).sum() / marginal.sum()
    print(f"{name:>8}: mass {kernel.sum():6.2f}, variance along x {variance:5.2f} px² (σ² = {sigma**2:g})")

# %% [markdown]
# The missing mass does not matter to the CRF as DeepLab runs it: its kernels are *normalised*
# (D^{-1/2} K D^{-1/2}, with D the kernel's row sums, the convention of Krähenbühl's released code
# and of pydensecrf), which divides any constant factor out. And since pydensecrf uses the same
# lattice — the same constants, the same tie-breaking — the two should agree to rounding. They do,
# on a built-in scene with coarse, network-like scores (chapter 04's `coarse_scores`):

# %% tags=["nbval-check-output"]
image, label = synthetic.make_scene(seed=7, size=160)
probs = coarse_scores(label.astype(np.int64), len(synthetic.CLASSES), seed=7)
params = CRFParams(w1=4, sigma_alpha=50, sigma_beta=5, w2=3, sigma_gamma=3, iterations=10)
ours = dense_crf(image, probs, params, method="lattice")
theirs = dense_crf(image, probs, params, method="pydensecrf")
print(f"labels that agree with pydensecrf: {(ours.argmax(0) == theirs.argmax(0)).mean():.2%}")
print(f"largest difference in Q below 1e-4: {np.abs(ours - theirs).max() < 1e-4}")
print(f"labels the CRF changed: {(theirs.argmax(0) != probs.argmax(0)).mean():.2%} of the pixels")

# %% [markdown]
# How fast? The timings below are for this small image on this machine;
# `benchmarks/bench_crf_fast.py` measures a 500 × 375 image with 21 labels against pydensecrf
# and the straightforward PyTorch path (`method="torch"`), on the CPU and, where there is one,
# the GPU.

# %% tags=["nbval-ignore-output"]
for method in ("pydensecrf", "lattice"):
    start = time.perf_counter()
    dense_crf(image, probs, params, method=method)
    print(f"{method:>10}: {1e3 * (time.perf_counter() - start):6.1f} ms for a 160 × 160 image, "
          f"{params.iterations} iterations")

# %% [markdown]
# ## 2 · Mean-field as layers: CRF-as-RNN
#
# Zheng et al. (ICCV 2015, §4) noticed that one mean-field iteration is a short stack of
# operations a network already knows — and every one of them has a gradient:
#
# | step | operation | as a layer |
# |---|---|---|
# | message passing | Q̃_m(l) = Σ_j k_m(f_i, f_j) Q_j(l) | Gaussian filtering (the lattice: linear, so its gradient is the same filter transposed) |
# | weighting | Q̌ = w1·Q̃_1 + w2·Q̃_2 | a weighted sum, w1 and w2 learnable |
# | compatibility | Q̂(l) = Σ_l' μ(l, l') Q̌(l') | a 1 × 1 convolution, μ learnable (Potts to start) |
# | unaries | Ǔ = U − Q̂ | subtraction from the network's scores U |
# | normalise | Q = softmax(Ǔ) | softmax |
#
# T iterations are an RNN whose state is Q. `CRFasRNN(num_classes, params)` is that layer:
# `(scores, image) → refined scores`, so `cross_entropy` on its output trains *through* the CRF
# into the network. The bandwidths σα, σβ, σγ stay fixed (the lattice is built from them).
# `gradcheck` compares the layer's analytical gradients with finite differences on a tiny
# input, in float64:

# %% tags=["nbval-check-output"]
tiny = CRFasRNN(3, CRFParams(w1=4, sigma_alpha=3, sigma_beta=20, w2=3, sigma_gamma=1, iterations=3)).double()
tiny_image = torch.randint(0, 256, (1, 3, 5, 6), generator=generator).float()
tiny_scores = torch.randn(1, 3, 5, 6, dtype=torch.float64, generator=generator, requires_grad=True)
print("gradients through the unaries match finite differences:",
      torch.autograd.gradcheck(lambda s: tiny(s, tiny_image), (tiny_scores,)))

# %% [markdown]
# ## 3 · The experiment
#
# The same DeepLab v2 (ASPP on a ResNet-50; below the `full` profile, one unit per stage and
# channels scaled by the profile's width) is first trained without a CRF by the book's engine, `deeplab_edu.train`
# (chapters 07–10). Then it is trained for as many iterations again, in two ways:
#
# * **plain** — as before; at test time the dense CRF is applied as post-processing, with
#   (w1, σα, σβ) cross-validated on the validation images the way DeepLab v1 did (w2 = σγ = 3
#   fixed), with the lattice (`method="lattice"`), which runs wherever the network runs;
# * **CRF-as-RNN** — with a `CRFasRNN` layer on top (T = 5 iterations in training, 10 at test,
#   as Zheng et al.), trained end to end: the network, w1, w2 and μ.
#
# The built-in dataset stands in for PASCAL VOC (chapter 05); in the smoke profile the runs are a
# few iterations long and the numbers only show that everything runs. On the built-in set the `laptop` profile's small models start from the
# miniature-ImageNet backbones (`data/pretrained/`) and, in a few CPU minutes, learn to tell
# objects from the background and to name some of the classes (chapters 07–10 print which);
# chapter 09 trains v3 from random weights for comparison, and it stays at background. The
# `full` profile on a GPU is where the differences between the methods mean something.

# %%
DATA_ROOT = str(paths.builtin_root() / profile.name)
RUNS = paths.REPO_ROOT / "runs" / "11_crf_rnn"
config = TrainConfig.from_profile("deeplabv2", profile, backbone="resnet50", dataset="builtin",
                                  data_root=DATA_ROOT, lr=0.01, weight_decay=5e-4,
                                  out_dir=str(RUNS / "stage1"), seed=0)
stage1 = train(config)
base, num_classes, class_names = stage1.model, stage1.num_classes, list(stage1.class_names)
print(f"stage 1 (no CRF): {stage1.iterations} iterations, last loss {stage1.history[-1]['loss']:.3f}")

# %% [markdown]
# The engine trains plain networks (it takes the loss on `forward_scores`, before any CRF), so
# stage 2 is a short loop here made of the engine's parts: its optimiser (SGD, the head at 10×
# the rate), its poly schedule and its full-resolution loss — plus one more parameter group for
# the CRF's w1, w2 and μ. Both variants start from the stage-1 weights and see the same batches
# (the loader's order and the crops' random scale, crop and flip are seeded afresh for each).

# %%
val_set = build_dataset("builtin", "val", transform=EvalTransform(), root=DATA_ROOT)


def to_rgb(x):
    """The CRF's appearance kernel wants colours 0-255; the network wants normalised input."""
    return torch.from_numpy(denormalize(x)).permute(0, 3, 1, 2).to(x.device)


def fine_tune(model, iterations, lr=config.lr):
    network = model.model if isinstance(model, CRFRNNSegmenter) else model
    optimiser = make_optimizer(network, lr, config.momentum, config.weight_decay)
    if network is not model:  # w1, w2, μ: a handful of numbers, given the head's 10x rate
        optimiser.add_param_group({"params": list(model.crf.parameters()), "lr": 10 * lr,
                                   "weight_decay": 0.0, "name": "crf"})
    schedule = make_scheduler(optimiser, "poly", iterations)
    augment = TrainTransform(profile.crop_size, generator=torch.Generator().manual_seed(1))
    train_set = build_dataset("builtin", "train", transform=augment, root=DATA_ROOT)
    loader = torch.utils.data.DataLoader(train_set, batch_size=profile.batch_size, shuffle=True,
                                         drop_last=True, generator=torch.Generator().manual_seed(1))
    model.train()
    batches = iter(())
    for _ in tqdm(range(iterations), desc="stage 2", leave=False):
        try:
            x, y = next(batches)
        except StopIteration:
            batches = iter(loader)
            x, y = next(batches)
        loss = upsampled_loss(model(x.to(device)), y.to(device))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    return loss.item()


plain = copy.deepcopy(base)
print(f"stage 2, plain: last loss {fine_tune(plain, profile.iterations):.3f}")

crf_params = CRFParams(w1=4, sigma_alpha=20, sigma_beta=10, w2=3, sigma_gamma=3, iterations=5)
crf_rnn = CRFRNNSegmenter(copy.deepcopy(base), CRFasRNN(num_classes, crf_params), to_rgb=to_rgb).to(device)
print(f"stage 2, CRF-as-RNN: last loss {fine_tune(crf_rnn, profile.iterations):.3f}")

# %% [markdown]
# ## 4 · Post-processing against end-to-end
#
# The plain network's probabilities on the validation images are computed once; the
# cross-validation then runs the lattice CRF for every (w1, σα, σβ) of a small grid on them
# (`crf.search.grid_search`, the same code chapter 04 runs), on the network's device.

# %%
@torch.no_grad()
def predict(model):
    """Images (uint8 H x W x 3), probabilities (C x H x W) and labels of the validation set."""
    model.eval()
    images, probs, labels = [], [], []
    for x, y in val_set:
        x = x[None].to(device)
        probs.append(model(x).softmax(1)[0].cpu().numpy())
        images.append(denormalize(x)[0])
        labels.append(y.numpy())
    return images, probs, labels


images, plain_probs, labels = predict(plain)
grid = grid_search(images, plain_probs, labels, num_classes, w1=[3, 5], sigma_alpha=[10, 30],
                   sigma_beta=[5, 13], method="lattice", device=device)
best = grid[0].params
print(f"cross-validated: w1 = {best.w1:g}, σα = {best.sigma_alpha:g}, σβ = {best.sigma_beta:g}")

# %%
crf_rnn.crf.iterations = 10  # Zheng et al. train with T = 5 and test with T = 10
_, rnn_probs, _ = predict(crf_rnn)
results = {
    "network alone": evaluate_crf(images, plain_probs, labels, num_classes, None),
    "network + CRF (post-processing)": evaluate_crf(images, plain_probs, labels, num_classes, best,
                                                    method="lattice", device=device),
    "CRF-as-RNN (end to end)": evaluate_crf(images, rnn_probs, labels, num_classes, None),
}
widths = list(results["network alone"].trimap_accuracy)
print(f"{'':<34}{'mIoU':>7}{'pixel acc':>11}" + "".join(f"{f'band {w}px':>11}" for w in widths))
for name, score in results.items():
    print(f"{name:<34}{score.miou:7.3f}{score.pixel_accuracy:11.3f}"
          + "".join(f"{score.trimap_accuracy[w]:11.3f}" for w in widths))

# %% [markdown]
# Read the table for the profile you ran. In a short run the post-processed network can well come
# out ahead: CRF-as-RNN must learn w1, w2 and μ while the network underneath is still changing,
# whereas the post-processing CRF gets its parameters from a search on the very images it is
# scored on. Zheng et al. report their gain after full training on VOC.
#
# `evaluate_crf` scores each set of label maps with one `metrics.ConfusionMatrix` over all the
# validation images (mIoU) and with `metrics.TrimapConfusion`: the columns "band w px" are the
# **trimap** accuracy of DeepLab v1 (§5, Fig. 5), pixel accuracy counted only within w pixels of
# a true object boundary, where a CRF does its work.
#
# What did the CRF layer learn? Its kernel weights moved from where they started, and the
# compatibility μ(l, l') — the penalty for giving a pixel label l when its similar neighbours say
# l' — is no longer the same for every pair of labels. Nothing in the layer keeps w1, w2 or μ
# positive (Zheng et al. do not constrain them either): a kernel's message enters the update
# only multiplied by its weight and by μ, so a weight that changed sign says "this kernel now
# pushes the other way", to be read together with μ:

# %%
w1, w2 = crf_rnn.crf.kernel_weights.tolist()
print(f"kernel weights: w1 {crf_params.w1:g} -> {w1:.3f}, w2 {crf_params.w2:g} -> {w2:.3f}")
mu = crf_rnn.crf.compatibility.detach().cpu().numpy()
plot_compatibility(mu, class_names, start=1 - np.eye(num_classes))
plt.show()

# %% [markdown]
# One validation image, the three ways:

# %%
index = int(np.argmax([len(np.unique(label)) for label in labels]))  # the busiest scene
post = dense_crf_lattice(images[index], plain_probs[index], best)
plot_segmentations(images[index], labels[index], {
    "network alone": plain_probs[index].argmax(0),
    "+ CRF post-processing": post.argmax(0),
    "CRF-as-RNN": rnn_probs[index].argmax(0),
})
plt.show()

# %% [markdown]
# ## What to take away
#
# * The permutohedral lattice turns the dense CRF's N² message passing into a few sparse passes
#   over the pixels, and in PyTorch it is the same computation pydensecrf does — the same labels,
#   probabilities equal to rounding — on any device.
# * Because every step of mean-field is differentiable, the CRF can be a layer: CRF-as-RNN trains
#   the network *with* the CRF, and learns the CRF's weights and a label compatibility instead of
#   a grid search.
# * Where a GPU is at hand, `python benchmarks/bench_crf_fast.py` measures the lattice against
#   pydensecrf at VOC size; the `laptop` and `full` profiles make the comparison above meaningful.
#
# **Exercises.** (1) Freeze μ (`learn_compatibility=False`) and compare. (2) Train CRF-as-RNN with
# T = 1 and test with T = 10: does the layer still help? (3) In `plot_lattice_kernel`, make σ
# smaller than one pixel: what happens to the approximation when the lattice is coarser than the
# pixel grid?

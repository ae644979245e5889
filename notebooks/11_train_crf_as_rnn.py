# %% [markdown]
# # 11 · A fast, differentiable dense CRF, and CRF-as-RNN
#
# DeepLab v1 and v2 put a fully-connected CRF *after* the network (chapter 04): the network
# scores every pixel, the CRF sharpens those scores along image edges, and its five
# parameters (w1, σα, σβ, w2, σγ) are cross-validated on held-out images with the network
# frozen. Two things limit that recipe:
#
# * **one device** — pydensecrf runs on one CPU core, outside the network's framework: every
#   setting of a cross-validation grid costs a full pass over the validation set on that core,
#   and a GPU cannot help;
# * **no gradient** — the CRF cannot tell the network what would have helped it, because the
#   network is trained as if the CRF did not exist.
#
# This chapter removes both limits. First the **permutohedral lattice** (Adams, Baek & Davis
# 2010), the trick inside pydensecrf, written in plain PyTorch so that it runs on any device
# PyTorch runs on and back-propagates (on one CPU it is no faster than pydensecrf: the cell in
# section 1 times both). Then **CRF-as-RNN** (Zheng et al., ICCV 2015): mean-field iterations
# unrolled as layers of the network, trained end to end, learning the kernel weights and a
# label compatibility matrix, starting from the values the grid search found. Finally the two
# are compared on the built-in dataset: the same small DeepLab, with the CRF as post-processing
# and with the CRF inside the network.
#
# | module | what it holds |
# |---|---|
# | `crf/permutohedral.py` | the lattice: embed, splat, blur, slice; a loop version and the vectorised one |
# | `crf/lattice_meanfield.py` | mean-field on the lattice, `dense_crf(..., method="lattice")` |
# | `crf/crf_rnn.py` | `CRFasRNN`, the layer |
# | `models/crf_rnn.py` | `CRFRNNSegmenter`, a segmentation model with the layer on top |

# %%
# %matplotlib inline
import dataclasses
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from deeplab_edu.book import (
    build_dataset, build_training_model, class_gap, CLASSES, coarse_scores, colour_family, compare,
    conclusions, CRFasRNN, CRFParams, default_device, default_training_data, dense_crf, estimate_runs,
    evaluate, example_predictions, format_results_table, get_profile, gradient_norm, holdout_split, effect_label,
    lattice_impulse_response, make_scene, MIN_NOISE, miou_without, paper_difference, plot_compatibility,
    plot_lattice_kernel, plot_predictions, plot_training_curves, predicted_as, REPO_ROOT, results_report,
    run_trial, seed_everything, Spread, TrainConfig, training_curves, TrainTransform, tune_crf, Why,
)

generator = seed_everything(0)
profile = get_profile()
device = default_device()
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
image, label = make_scene(seed=7, size=160)
probs = coarse_scores(label.astype(np.int64), len(CLASSES), seed=7)
params = CRFParams(w1=4, sigma_alpha=50, sigma_beta=5, w2=3, sigma_gamma=3, iterations=10)
ours = dense_crf(image, probs, params, method="lattice")
theirs = dense_crf(image, probs, params, method="pydensecrf")
print(f"labels that agree with pydensecrf: {(ours.argmax(0) == theirs.argmax(0)).mean():.2%}")
# Bounds, not digits: float32 rounding differs with the CPU and the thread count, and ten
# iterations amplify it a little where Q is near a tie.
print(f"largest difference in Q below 1e-2: {np.abs(ours - theirs).max() < 1e-2}, "
      f"mean difference below 1e-5: {np.abs(ours - theirs).mean() < 1e-5}")
print(f"labels the CRF changed: {(theirs.argmax(0) != probs.argmax(0)).mean():.2%} of the pixels")

# %% [markdown]
# How fast? The timings below are for this small image on this machine;
# `benchmarks/bench_crf_fast.py` measures a 500 × 375 image with 21 labels against pydensecrf
# and the PyTorch path that subsamples the appearance kernel on a stride-8 grid
# (`method="torch"`), on the CPU and, where there is one, the GPU.

# %% tags=["nbval-ignore-output"]
elapsed = {}
for method in ("pydensecrf", "lattice"):
    runs = []
    for _ in range(3):  # the fastest of three: a busy neighbour only ever slows a run down
        start = time.perf_counter()
        dense_crf(image, probs, params, method=method)
        runs.append(time.perf_counter() - start)
    elapsed[method] = min(runs)
    print(f"{method:>10}: {1e3 * elapsed[method]:6.1f} ms for a 160 × 160 image, {params.iterations} iterations")
ratio = elapsed["pydensecrf"] / elapsed["lattice"]
print(f"the PyTorch lattice is {ratio:.2f}x pydensecrf's speed here: "
      + ("faster" if ratio > 1.2 else "slower" if ratio < 1 / 1.2 else "about the same")
      + " on this CPU; what it adds is a gradient and any device PyTorch runs on")

# %% [markdown]
# ## 2 · Mean-field as layers: CRF-as-RNN
#
# Zheng et al. (ICCV 2015, §4) noticed that one mean-field iteration is a short stack of
# operations a network already knows — and every one of them has a gradient:
#
# | step | operation | as a layer |
# |---|---|---|
# | message passing | Q̃_m(l) = Σ_j k_m(f_i, f_j) Q_j(l) | Gaussian filtering (the lattice: linear, so its gradient is the same filter transposed) |
# | weighting | Q̌ = W1·Q̃_1 + W2·Q̃_2 | C×C weight matrices, learnable (w1·I and w2·I to start; their released code) |
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
# channels scaled by the profile's width, starting from the book's miniature-ImageNet backbone) is
# first trained without a CRF by the book's engine (chapters 07–10). Then it is fine-tuned for an
# eighth as many iterations again, from those weights (`init_from`), in two ways, each with two seeds:
#
# * **plain** — as before; at test time the dense CRF is applied as post-processing, with
#   (w1, σα, σβ) cross-validated on held-out training images (the built-in set's `holdout`
#   split, never the images it is scored on), w2 = σγ = 3 fixed as in DeepLab v1;
# * **CRF-as-RNN** — with a `CRFasRNN` layer on top, trained end to end: the network, the C×C
#   weights of both kernels and the C×C compatibility μ, starting from the cross-validated
#   parameters. As Zheng et al. (§6) did, the layer runs T = 5 mean-field iterations in training
#   and T = 10 at test, and its parameters learn in their own optimiser group, far faster than the
#   network: the authors' Caffe release sets learning-rate multipliers of 10,000 on the kernel
#   weights and 1,000 on μ (`recipes.CRF_RNN_LR_MULT`), with a network fine-tuned at a small rate.
#   Here both stage-2 arms fine-tune the network at a hundredth of stage 1's rate, and the layer's
#   group learns at `crf_lr_mult` = 100 times that, i.e. at stage 1's base rate: the network barely
#   moves while the layer learns, the release's ratio scaled down (printed below). The settings
#   tried before this one — the network at a tenth of stage 1's rate, the layer's group at 10× to
#   1,000×, 100 or 400 steps — and where each ended are in `benchmarks/results/crf_rnn_stage2.md`.
#
# Both go through the same engine, `deeplab_edu.train` — a `TrainConfig` with `crf_rnn=` puts the
# layer on top — so both are resumable, logged and seeded alike. Each stage-2 seed sees its own
# order of crops; the difference between the seeds is the noise the comparison is read against.

# %%
DATASET, DATA_ROOT = default_training_data(profile.name)  # VOC + SBD if on disk, else built-in
SEEDS = (0,) if profile.name in ("full", "gpu") else (0, 1)  # as setup_chapter: one seed on a GPU profile
RUNS = REPO_ROOT / "runs" / "11_crf_rnn" / profile.name
val_set = build_dataset(DATASET, "val", root=DATA_ROOT)
config = TrainConfig.from_profile("deeplabv2", profile, backbone="resnet50", dataset=DATASET, data_root=DATA_ROOT,
                                  out_dir=str(RUNS / "stage1"))
# Before the first run: stage 1, then two arms of an eighth of its length per seed (the CRF layer's
# lattice comes on top of the FLOP count, so the CRF-as-RNN arm will take longer than this says).
eighth = dataclasses.replace(config, iterations=max(config.iterations // 8, 1))
estimate_runs([config] + [eighth] * 2 * len(SEEDS), seeds=(0,), device=device)
stage1 = run_trial("stage 1", config, (0,), val_set, device=device)
num_classes, class_names = stage1.runs[0].num_classes, list(stage1.runs[0].class_names)
tuned = tune_crf(stage1.runs[0].model, holdout_split(DATASET, DATA_ROOT), iterations=profile.crf_iterations, max_extensions=2,
                 device=device)
crf_params = tuned.params
print(f"stage 1: {stage1.runs[0].iterations} iterations, val mIoU {stage1.values()[0]:.3f}")
print(tuned.describe())

# %% [markdown]
# ### Why the CRF layer needs a smaller step
#
# Back-propagation through T mean-field iterations is back-propagation through time: each
# iteration feeds its output into the next through the kernel weights, so the gradient that
# reaches the network's scores is a product of T factors, and it can come out several times
# larger than the network's own. One training batch, both ways, from the stage-1 weights:

# %%
stage2 = dataclasses.replace(config, init_from=str(stage1.runs[0].checkpoint), pretrained=None,
                             iterations=max(config.iterations // 8, 1), out_dir=str(RUNS / "plain"))
rnn_settings = {field: getattr(crf_params, field) for field in ("w1", "sigma_alpha", "sigma_beta", "w2", "sigma_gamma")}
stage2 = dataclasses.replace(stage2, lr=config.lr / 100)  # fine-tuning, in both arms
# Zheng et al. §6: T = 5 in training, 10 at test. The layer's own rate (Caffe: 1,000-10,000x the
# network's); one group here, at 100x the fine-tuning rate, i.e. stage 1's base rate.
rnn_config = dataclasses.replace(stage2, crf_rnn={**rnn_settings, "iterations": 5, "test_iterations": 10},
                                 crf_lr_mult=100.0, out_dir=str(RUNS / "crf_rnn"))
augment = TrainTransform(config.crop_size, scale=config.scale, generator=torch.Generator().manual_seed(0))
train_crops = build_dataset(DATASET, "train", transform=augment, root=DATA_ROOT)
crops, crop_labels = (torch.stack(t) for t in zip(*(train_crops[i] for i in range(config.batch_size))))
norms = {name: gradient_norm(build_training_model(c.resolved(), num_classes, torch.device(device))[0].to(device),
                             crops.to(device), crop_labels.to(device), c.loss)
         for name, c in (("network alone", stage2), ("through the CRF layer", rnn_config))}
for name, norm in norms.items():
    print(f"{name:>22}: gradient norm {norm['all']:.2f} (backbone {norm['backbone']:.2f}, head {norm['head']:.2f})")
ratio = norms["through the CRF layer"]["all"] / norms["network alone"]["all"]
print(f"the CRF layer multiplies the gradient by {ratio:.1f}")

# %% [markdown]
# An RNN's cure is to clip the gradient's norm (Pascanu et al., ICML 2013, §3.2): scale the
# gradient down whenever its norm exceeds a threshold, so a step is never longer than the
# rate times that threshold. Zheng et al. instead trained with a tiny rate for many thousands of
# iterations. Stage 2 clips at about the network's own gradient norm, in *both* arms, so the
# comparison stays fair (`TrainConfig.clip_grad_norm`, `--clip-grad-norm` on the command line).
# The first exercise below removes the clip, to see what it prevents.

# %%
clip = float(f"{norms['network alone']['all']:.2g}")
stage2 = dataclasses.replace(stage2, clip_grad_norm=clip, validate_every=max(stage2.iterations // 4, 1))
rnn_config = dataclasses.replace(rnn_config, clip_grad_norm=clip, validate_every=stage2.validate_every)
# Where each arm starts: the stage-1 network alone, and the same network under the layer with the
# cross-validated parameters (the post-processing CRF in Zheng et al.'s normalisation, T = 10).
start = build_training_model(rnn_config.resolved(), num_classes, torch.device(device))[0].to(device)
start_scores = evaluate(start, val_set, trimap_widths=(), device=device, progress=False)
at_start = {"plain": stage1.values()[0], "CRF-as-RNN": start_scores.summary()["mIoU"]}
plain = run_trial("plain", stage2, SEEDS, val_set, crf_params=crf_params, trimap_widths=(2, 4), device=device)
rnn = run_trial("CRF-as-RNN", rnn_config, SEEDS, val_set, trimap_widths=(2, 4), device=device)
print(f"stage 2: {stage2.iterations} iterations per arm at base lr {stage2.lr:g} (head {stage2.head_lr_mult:g}x), "
      f"the CRF layer's group at {rnn_config.crf_lr_mult:g}x = {stage2.lr * rnn_config.crf_lr_mult:g}; "
      f"gradient norm clipped at {clip:g}")
logs, validation = training_curves([plain, rnn])
for name, (steps, values) in validation.items():  # step 0: where each run started
    validation[name] = ([0, *steps], [at_start[name.split(",")[0]], *values])
plot_training_curves(logs, validation=validation, title="stage 2 (dots: validation mIoU, from step 0)")
plt.show()

# %% [markdown]
# ## 4 · Post-processing against end-to-end
#
# Three ways to score the same validation images: the plain network alone, the plain network
# followed by the cross-validated CRF, and CRF-as-RNN (its own CRF inside). Every number is the
# mean over the stage-2 seeds ± half their range; the verdicts come from the numbers. Zheng et
# al. (ICCV 2015, Table 1) report end-to-end training beating the same CRF used as
# post-processing on VOC.

# %%
effects = [compare("mIoU", "network alone", plain.values(), "+ CRF post-processing", plain.values(crf=True),
                   paper=paper_difference("v2_aspp", ("ASPP-L", "after CRF"), ("ASPP-L", "before CRF"))),
           compare("mIoU", "network alone", plain.values(), "CRF-as-RNN", rnn.values()),
           compare("mIoU", "+ CRF post-processing", plain.values(crf=True), "CRF-as-RNN", rnn.values()),
           compare("trimap 2px", "+ CRF post-processing", plain.values("trimap_2px", crf=True), "CRF-as-RNN",
                   rnn.values("trimap_2px"))]
print(results_report([plain, rnn], effects))

# %% [markdown]
# Where did CRF-as-RNN start? Before its first stage-2 step the layer holds the cross-validated
# parameters on top of the stage-1 network — the post-processing CRF in another normalisation
# (D⁻¹K) — so its score then is the baseline its training should raise. End-to-end training
# that ends below it has taught the layer and the network nothing the grid search had not.

# %%
after = Spread.of(rnn.values())
change = after.mean - at_start["CRF-as-RNN"]
where = ("about where it started: the change is inside the seeds' noise" if abs(change) <= max(after.range, MIN_NOISE)
         else f"{'higher' if change > 0 else 'lower'} than where it started")
points = round(100 * change, 1) + 0.0  # + 0.0: a change that rounds to zero prints as +0.0, not -0.0
print(f"CRF-as-RNN before stage 2: val mIoU {at_start['CRF-as-RNN']:.3f}; after: {after}, {points:+.1f} points — {where}")

# %% [markdown]
# Which classes moved? mIoU is the mean of the per-class IoUs, so a change can sit in one class
# (`deeplab_edu.class_gap`): the first line splits CRF-as-RNN's change during stage 2 by class,
# the second its difference from post-processing; each names the class that moved most and what
# that class's pixels are called instead (a row of the confusion matrix, all seeds).

# %%
arms = {"before stage 2": ([start_scores], "after stage 2"),
        "+ CRF post-processing": (plain.with_crf, "CRF-as-RNN")}
for name_a, (scores_a, name_b) in arms.items():
    gap = class_gap(name_a, scores_a, name_b, rnn.network)
    print(gap.describe())
    for name, scored in ((name_a, scores_a), (name_b, rnn.network)):
        shares = sorted(predicted_as(scored, gap.largest).items(), key=lambda kv: -kv[1])[:3]
        print(f"  {name}: true {gap.largest} pixels predicted as "
              + ", ".join(f"{cls} {share:.0%}" for cls, share in shares))
    if len(scores_a) > 1:  # two seeds a side: the rest of the difference against their spread
        rest = compare(f"mIoU without {gap.largest}", name_a, miou_without(scores_a, gap.largest), name_b,
                       miou_without(rnn.network, gap.largest))
        print("  " + rest.sentence())
    if gap.largest != "background":
        print(f"  {gap.largest}'s colour family is shared with "
              f"{', '.join(colour_family(gap.largest)) or 'no other class'}")

# %% [markdown]
# Where the class that moved shares its colour family with another, only its shape tells the
# two apart, and the dense CRF's appearance kernel joins pixels of similar colour: when the
# network calls part of such an object by its look-alike's name, mean-field hands the whole
# object to whichever label holds more of it. Trained through the CRF, the network is scored
# only after that vote, by a loss that counts pixels. Did stage 2 change the network's own
# scores for that class, or only what the layer does with them? The layer can be taken off
# (`model.model` is the network inside `CRFRNNSegmenter`) and the network scored alone, next to
# the plain arm's network:

# %%
moved = class_gap("+ CRF post-processing", plain.with_crf, "CRF-as-RNN", rnn.network).largest
inner = [evaluate(run.model.model, val_set, trimap_widths=(), device=device, progress=False) for run in rnn.runs]
called = {}
for name, scored in (("plain arm's network", plain.network), ("CRF-as-RNN's network, layer removed", inner)):
    called[name] = predicted_as(scored, moved)[moved]
    print(f"{name:>36}: mIoU {Spread.of([s.summary()['mIoU'] for s in scored])}; true {moved} pixels called "
          f"{moved} {called[name]:.0%}")
alone = compare("mIoU", "plain arm's network", plain.values(), "CRF-as-RNN's network, layer removed",
                [s.summary()["mIoU"] for s in inner], expected="none")
print(alone.sentence())
change_called = called["CRF-as-RNN's network, layer removed"] - called["plain arm's network"]
lost = ("so its pixels are lost in the layer's vote, not in the network's scores" if change_called > 0
        else "so the network's own scores lost them before the layer's vote")
print(f"trained through the CRF, the network itself calls {abs(change_called) * 100:.0f} percentage points "
      f"{'fewer' if change_called < 0 else 'more'} of the {moved} pixels {moved}: {lost}")

# %% [markdown]
# Trained end to end, the network no longer has to be a segmenter on its own: the layer is part
# of the model, and the network's scores are whatever makes the layer's output right (compare
# its mIoU without the layer to the plain network's). Zheng et al. fine-tuned for many thousands
# of iterations on VOC; this stage 2 is a hundred steps, so read the verdicts above as what a
# short end-to-end fine-tuning buys on this data.

# %% [markdown]
# `trimap 2px` is DeepLab v1's **trimap** accuracy (§5, Fig. 5): pixel accuracy counted only within
# 2 pixels of a true object boundary, where a CRF does its work.
#
# What did the CRF layer learn? Zheng et al.'s layer has a C×C weight matrix for each kernel
# (how much a label's message counts toward each label) beside the C×C compatibility μ. They
# start at w1·I, w2·I and the Potts model (μ = 1 − I). Nothing keeps them positive (the paper
# does not constrain them either): a message enters the update as −μ·(W·message), so only that
# product has a meaning, and the figure shows the learned μ.

# %%
layer = rnn.runs[0].model.crf
off = ~np.eye(num_classes, dtype=bool)
drift = {}
for name, begin in (("bilateral_ker_weights", crf_params.w1), ("spatial_ker_weights", crf_params.w2)):
    weights = getattr(layer, name).detach().cpu().numpy()
    drift[name] = np.abs(weights - begin * np.eye(num_classes)).max() / begin
    print(f"{name}: started at {begin:g}·I; now diagonal {np.diag(weights).mean():+.3f} on average "
          f"(min {np.diag(weights).min():+.3f}), off-diagonal {weights[off].mean():+.3f}; the largest change is "
          f"{drift[name]:.0%} of the starting weight")
mu = layer.compatibility.detach().cpu().numpy()
drift["compatibility"] = np.abs(mu - (1 - np.eye(num_classes))).max()
print(f"compatibility μ: started at Potts (0 on the diagonal, 1 off it); now diagonal {np.diag(mu).mean():+.3f} on "
      f"average, off-diagonal {mu[off].mean():+.3f}; the largest change is {drift['compatibility']:.2f}")
plot_compatibility(mu, class_names, start=1 - np.eye(num_classes))
plt.show()

# %% [markdown]
# Four validation images, the three ways (seed 0 of each):

# %%
shown = example_predictions(plain.runs[0].model, val_set, range(4), crf_params, device=device)
rnn_shown = example_predictions(rnn.runs[0].model, val_set, range(4), device=device)
plot_predictions(shown["images"], {"truth": shown["truth"], "network alone": shown["network"],
                                   "+ CRF post-processing": shown["network + CRF"],
                                   "CRF-as-RNN": rnn_shown["network"]}, class_names,
                 title="post-processing vs end-to-end")
plt.show()

# %% [markdown]
# ## What held, what did not, and why
#
# The chapter's effects, each with this run's difference and the paper's, grouped by what the
# numbers say (`deeplab_edu.conclusions`); a reason offered for an effect that did not hold is
# marked as tested by an arm of this chapter or as a hypothesis. Then what the layer itself
# learned, and whether end-to-end training ended above where it started.

# %%
# The class split above is the evidence for the first reason; the layer's drift for the second.
why = {effect_label(effects[2]): Why(f"what separates the two sits mostly in one class, {moved}; scored without its layer, "
                              f"CRF-as-RNN's network calls {abs(change_called) * 100:.0f} percentage points "
                              f"{'more' if change_called > 0 else 'fewer'} of its pixels right than the plain network"),
       effect_label(effects[3]): Why(f"the layer's largest parameter change is {max(drift.values()):.2f} of its "
                                     "starting scale, so it still is the cross-validated CRF; what differs from "
                                     "post-processing is the normalisation (D⁻¹K against pydensecrf's D^-1/2 K "
                                     "D^-1/2) and what stage 2 did to the network below it")}
print(conclusions(effects, why))
largest = max(drift, key=drift.get)
print(f"\nthe layer's parameters started at the grid search's values; the one that moved most is {largest} "
      f"({drift[largest]:.2f} of its starting scale); end-to-end training ended {where}")

# %% [markdown]
# ## What to take away
#
# * The permutohedral lattice turns the dense CRF's N² message passing into a few sparse passes
#   over the pixels, and in PyTorch it is the same computation pydensecrf does — the same labels,
#   probabilities equal to rounding — on any device PyTorch runs on, with a gradient.
# * Because every step of mean-field is differentiable, the CRF can be a layer: CRF-as-RNN trains
#   the network *with* the CRF. Here it starts from the grid search's parameters, so what end-to-end
#   training adds is what the lines above measure: how far the layer's weights and μ moved, and
#   whether the score rose above its start.
# * Where a GPU is at hand, `python benchmarks/bench_crf_fast.py` measures the lattice against
#   pydensecrf at VOC size.
#
# **Exercises.** (1) Remove the clip (`clip_grad_norm=None` in both stage-2 configs) and watch
# the CRF-as-RNN arm's loss; then keep it off and lower stage 2's rate tenfold instead. Freeze μ
# (`crf_rnn={..., "learn_compatibility": False}`) and compare, then the kernel weights too
# (`"learn_weights": False`): does the network alone, trained through a fixed CRF, keep the score
# it started with? Or train the layer with two scalar kernel weights instead of Zheng et al.'s
# C×C matrices (`"kernels": "scalar"`). (2) Train CRF-as-RNN with
# T = 1 and test with T = 10: does the layer still help? (3) In `plot_lattice_kernel`, make σ
# smaller than one pixel: what happens to the approximation when the lattice is coarser than the
# pixel grid? (4) Score the plain arm again with a weaker appearance kernel
# (`run_trial("plain", stage2, SEEDS, val_set, crf_params=dataclasses.replace(crf_params,
# w1=crf_params.w1 / 2))`, cached runs are only scored) and print `predicted_as` for the class
# above: does it keep more of its pixels when the CRF's vote is weaker?

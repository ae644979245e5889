# %% [markdown]
# # 04 · The fully-connected CRF
#
# A classification network is built to be **invariant**: max-pooling and strides make its
# features insensitive to where exactly things are, which is what "is there a cat?" needs and
# what "which pixels are the cat?" cannot afford. DeepLab keeps the score map dense with atrous
# convolution, but even at output stride 8 there is one score per 8 × 8 block, each computed
# from a receptive field hundreds of pixels wide. Bilinearly upsampled, such scores are
# *smooth and blobby*: right in the middle of objects, vague at their edges.
#
# DeepLab v1 (Chen et al., ICLR 2015, §4.3) repairs the edges afterwards with a
# **fully-connected conditional random field** (Krähenbühl & Koltun, NIPS 2011): every pixel is
# linked to every other pixel, and pixels that are close *and similar in colour* are pushed to
# take the same label. A short-range CRF would smooth further; the fully-connected one can
# *sharpen*, because it lets evidence travel along colour-coherent regions up to their edges.
#
# This chapter writes the CRF's energy down, runs mean-field inference on it step by step,
# checks three implementations against each other, sharpens coarse scores, measures the gain
# where it matters (near boundaries, the "trimap"), and finally searches the parameters on
# held-out images the way the paper did.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import torch

from deeplab_edu import book
from deeplab_edu.book import (coarse_scores, coarse_to_fine, ConfusionMatrix, crf_explorer,
                              CRFParams, dense_crf, gibbs_energy, kernel_matrix, mean_field_steps,
                              mean_field_torch, score_crf, trimap_accuracy)

_ = book.seed_everything(0)
device = book.default_device()  # where the PyTorch lattice runs: the GPU if there is one
SIZE = 96  # every image in this chapter is 96 × 96, whatever the profile: the lesson is the same
NUM_CLASSES = len(book.CLASSES)

# %% [markdown]
# ## Coarse, network-like scores
#
# We use scenes from the book's built-in dataset (`datasets.synthetic.make_scene`) and, instead
# of training a network first, we make scores that *look like* a network's from the ground
# truth: one-hot labels, blurred (a wide receptive field), averaged to one value per 8 × 8 block
# (output stride 8), perturbed by noise, and bilinearly upsampled (`crf.coarse_scores`). That
# isolates what the CRF does from how good a network is; chapter 07 applies it to real scores.

# %%
image, label = book.make_scene(seed=7, size=SIZE)
probs = coarse_scores(label, NUM_CLASSES, seed=7)
book.plot_refinement(image, label, probs, class_names=book.CLASSES)  # no CRF yet: that comes below
plt.show()

# %% [markdown]
# The errors of such scores sit along the boundaries. `metrics.trimap_accuracy` scores only the
# pixels within N pixels of a label boundary (the *trimap* of DeepLab v1 §5); the cell prints
# the accuracy in bands of growing width and over the whole image:

# %%
widths = [1, 2, 4, 8, 16]
before = trimap_accuracy(probs.argmax(0), label, widths, num_classes=NUM_CLASSES)
for width, accuracy in before.items():
    print(f"band of {width:>2} px each side: accuracy {accuracy:.3f}")
overall = ConfusionMatrix(NUM_CLASSES).update(probs.argmax(0), label).pixel_accuracy()
print(f"whole image:               accuracy {overall:.3f}")

# %% [markdown]
# ## The energy
#
# The CRF scores a whole labelling x (one label x_i per pixel i) by an energy, lower is better:
#
# $$E(x) = \sum_i \theta_i(x_i) + \sum_{i<j} \theta_{ij}(x_i, x_j), \qquad \theta_i(x_i) = -\log P(x_i)$$
#
# $$\theta_{ij} = \mu(x_i, x_j)\Big[\,w_1 \exp\!\Big(-\frac{\lVert p_i-p_j\rVert^2}{2\sigma_\alpha^2}
#   - \frac{\lVert I_i-I_j\rVert^2}{2\sigma_\beta^2}\Big) + w_2 \exp\!\Big(-\frac{\lVert p_i-p_j\rVert^2}{2\sigma_\gamma^2}\Big)\Big]$$
#
# with the Potts compatibility μ = [x_i ≠ x_j], positions p in pixels and colours I in 0–255.
# The unary term trusts the network. The pairwise term charges for every pair of pixels that
# disagree, by how related they are: the **appearance** kernel (w1, σα, σβ) relates pixels that
# are near *and* of similar colour; the **smoothness** kernel (w2, σγ) relates pixels that are
# merely very near, and removes isolated specks. Here are both kernels for one pixel:

# %%
params = CRFParams(w1=5, sigma_alpha=30, sigma_beta=10, w2=3, sigma_gamma=3, iterations=10)
pixel = (SIZE // 2, SIZE // 2)
book.plot_kernels(image, params, pixel)
plt.show()

# %% [markdown]
# The appearance kernel spreads far but stops at colour edges; the smoothness kernel is a small
# disc. Every pixel has such a pair of maps, so the pairwise table has N² entries: for this
# image, the cell below prints how many.

# %%
n = SIZE * SIZE
print(f"{n} pixels -> {n * (n - 1) // 2:,} pairs (i < j)")

# %% [markdown]
# ## Mean-field inference, step by step
#
# Minimising E over all labellings is hopeless, so the CRF approximates the distribution
# P(x) ∝ exp(−E(x)) by independent per-pixel distributions Q_i, the closest in KL(Q‖P).
# Krähenbühl & Koltun's Algorithm 1 updates all pixels at once:
#
# 1. message passing: Q̃_i(l) = Σ_{j≠i} k(i, j) Q_j(l)
# 2. compatibility: Q̂_i(l) = Σ_{l'≠l} Q̃_i(l')  (Potts)
# 3. local update: Q_i(l) ∝ exp(−θ_i(l) − Q̂_i(l))
#
# `crf.mean_field_steps` runs exactly that with all pairs as one N × N matrix, so we use a 48 × 48
# crop. It reports the objective F(Q) = KL(Q‖P) − log Z at each step (log Z does not depend on
# Q): mean-field is working when F falls. The figure's top row is the labelling argmax Q after
# each step; the bottom row is how sure Q is at each pixel (its largest probability): the band of
# doubt along the boundaries is where mean-field changes its mind.

# %%
crop = (slice(24, 72), slice(24, 72))
small_image, small_label = image[crop], label[crop]
small_probs = probs[(slice(None),) + crop].astype(np.float64)
steps = list(mean_field_steps(small_image, small_probs, params))
for t, q, objective in steps:
    print(f"step {t:>2}: F(Q) = {objective:10.2f}   labels changed from the network's: "
          f"{(q.argmax(0) != small_probs.argmax(0)).mean():.3f}")
book.plot_mean_field(steps, show=[0, 1, 3, 10], image=small_image, class_names=book.CLASSES)
plt.show()

# %% [markdown]
# F is the objective of the *distribution* Q. What about the energy E(x) of the labelling we
# finally read off, x = argmax Q? The cell evaluates E (the formula above, all pairs, with
# `crf.gibbs_energy`) for the network's labels, for the CRF's, and for the truth:

# %%
kernel = kernel_matrix(small_image, params)
for name, labelling in [("network (argmax P)", small_probs.argmax(0)),
                        ("after the CRF (argmax Q)", steps[-1][1].argmax(0)),
                        ("ground truth", small_label)]:
    print(f"E(x) for the {name:<25} {gibbs_energy(labelling, small_probs, kernel):10.2f}")

# %% [markdown]
# The CRF's labelling has a lower energy than the network's: mean-field, though it optimises Q,
# found a better x. The truth has a *higher* energy than both: E is built from the network's
# scores, and where those are confidently wrong, −log P charges the true label heavily. A CRF
# can only redistribute the evidence it is given; it cannot invent what the network missed.

# %% [markdown]
# ## Four implementations, one answer
#
# The exact path cannot scale (the table above has N² entries). Three others can:
#
# * **pydensecrf** (`method="pydensecrf"`), Krähenbühl's C++ code, filters with the
#   *permutohedral lattice*, an O(N) approximation of the Gaussian kernels;
# * **the straightforward PyTorch path** (`method="torch"`) runs on any device: the smoothness
#   kernel as two 1-D convolutions, the appearance kernel pair by pair in chunks (exact, but
#   quadratic in the number of pixels);
# * **the lattice in PyTorch** (`method="lattice"`, chapter 11 opens it up): the same
#   permutohedral lattice as pydensecrf, written in PyTorch, so it runs on a GPU, refines a batch
#   of images at once and passes gradients. It is the package's fast path.
#
# One detail matters when comparing them: the released code (and so DeepLab) *normalises*
# each kernel, D^{-1/2} K D^{-1/2} with D the row sums, and keeps the self-pair. The DeepLab
# weights are tuned for that convention, and `kernel_matrix(..., convention="densecrf")`, the
# default everywhere in the package, follows it; `convention="paper"` is the 2011 formula as
# printed. On the crop, the cell prints how far apart the results are:

# %%
exact = steps[-1][1]
torch_result = mean_field_torch(torch.from_numpy(small_image), torch.from_numpy(small_probs), params).numpy()
reference = dense_crf(small_image, small_probs.astype(np.float32), params, method="pydensecrf")
ours = dense_crf(small_image, small_probs.astype(np.float32), params, method="lattice")
print(f"torch      vs exact: max |ΔQ| = {np.abs(torch_result - exact).max():.1e}, "
      f"labels agree {(torch_result.argmax(0) == exact.argmax(0)).mean():.4f}")
print(f"pydensecrf vs exact: max |ΔQ| = {np.abs(reference - exact).max():.3f}, "
      f"mean |ΔQ| = {np.abs(reference - exact).mean():.4f}, "
      f"labels agree {(reference.argmax(0) == exact.argmax(0)).mean():.4f}")
# Bounds, not digits: the rounding differs with the CPU and the thread count.
print(f"lattice    vs pydensecrf: max |ΔQ| below 1e-2: {np.abs(ours - reference).max() < 1e-2}, "
      f"mean |ΔQ| below 1e-5: {np.abs(ours - reference).mean() < 1e-5}, "
      f"labels agree {(ours.argmax(0) == reference.argmax(0)).mean():.4f}")

# %% [markdown]
# The PyTorch path equals the exact one up to float rounding (its smoothness kernel is cut at
# 6σγ, where the Gaussian is below 10⁻⁷). The lattice is an approximation: the printed label
# agreement and mean difference say how good. Where labels disagree, Q is close to a tie, which
# is why the maximum difference can be large while the mean is small. Our lattice and
# pydensecrf's are the same algorithm with the same constants, so they agree to float32
# rounding, which ten iterations amplify a little where Q is near a tie: hence the bounds.
# The test suite (`tests/test_crf_meanfield.py`, `tests/test_crf_lattice.py`) holds all four
# together on many images and parameters.

# %% [markdown]
# ## Sharpening
#
# On full images we use a lattice, here pydensecrf's (the PyTorch lattice gives the same
# labels), with the hand-set parameters of the kernel figure above. The third column is what the
# network gives, the fourth what the CRF makes of it; the legend names the classes:

# %%
scenes = [book.make_scene(seed=seed, size=SIZE) for seed in (7, 11, 12)]
refined_scenes = []
fig, axes = plt.subplots(len(scenes), 4, figsize=(12.5, 2.9 * len(scenes)))
for row, (img, lab) in zip(axes, scenes):
    p = coarse_scores(lab, NUM_CLASSES, seed=1)
    q = dense_crf(img, p, params)
    refined_scenes.append((img, lab, p))
    book.plot_refinement(img, lab, p, q, axes=row, class_names=book.CLASSES)
fig.tight_layout()
plt.show()

# %% [markdown]
# Sharper, but not only sharper: look at the objects in the fourth column that are missing. The
# cell counts, for every object, the share of its pixels each labelling gives to it (the class's
# recall, `ConfusionMatrix.per_class_accuracy`) and how much probability the network put on it:


# %%
def object_recall(setting):
    """Per scene and object class: (pixels, network's recall, recall after the CRF, mean P(class))."""
    rows = []
    for k, (img, lab, p) in enumerate(refined_scenes, start=1):
        q = dense_crf(img, p, setting)
        network = ConfusionMatrix(NUM_CLASSES).update(p.argmax(0), lab).per_class_accuracy()
        crf = ConfusionMatrix(NUM_CLASSES).update(q.argmax(0), lab).per_class_accuracy()
        for c in np.unique(lab)[1:]:  # the objects, not the background
            rows.append((k, book.CLASSES[c], int((lab == c).sum()), network[c], crf[c], p[c][lab == c].mean()))
    return rows


def print_recall(rows):
    for k, name, pixels, network, crf, evidence in rows:
        print(f"scene {k} {name:<9} {pixels:5d} px: the network labels {network:4.0%} of it, the CRF {crf:4.0%}; "
              f"mean P({name}) on it {evidence:.2f}")
    lost = [row for row in rows if row[4] < row[3] / 2]
    kept = [row for row in rows if row[4] >= row[3] / 2]
    print(f"objects the CRF keeps less than half of what the network had: "
          f"{', '.join(f'{name} (scene {k})' for k, name, *_ in lost) or 'none'}")
    if lost and kept:
        print(f"mean P on the objects it loses: at most {max(r[5] for r in lost):.2f}; "
              f"on those it keeps: at least {min(r[5] for r in kept):.2f}")


print_recall(object_recall(params))

# %% [markdown]
# The last two lines compare the objects the CRF loses with those it keeps by how much probability
# the network gave them. Keeping an object costs the pairwise term along its whole boundary, and
# a thin object (a stick) has a long boundary for its area; where the stand-in scores give it a
# low probability, the cheaper labelling is the background around it. That is the same trade as the sharpening, read
# the other way: the CRF can only redistribute the evidence it is given. These parameters were set
# by hand for the kernel figure; the last sections choose them on held-out scenes and come back to
# these objects.

# %% [markdown]
# Where did it help? The trimap accuracy before and after, on the first image:

# %%
refined = dense_crf(image, probs, params)
after = trimap_accuracy(refined.argmax(0), label, widths, num_classes=NUM_CLASSES)
for width in widths:
    print(f"band {width:>2} px: {before[width]:.3f} -> {after[width]:.3f}")
book.plot_trimap(label, widths, {"coarse scores": before, "after the CRF": after})
plt.show()

# %% [markdown]
# ## Explore the parameters
#
# Move the sliders: w1 and σβ decide how strongly and how selectively colour edges pull the
# labels; σα how far evidence travels; w2 and σγ how much isolated specks are cleaned up;
# `iterations` = 0 shows the network's own labels. The title gives the mean IoU before and after.
# (The figure's placement depends on the front end, so the test suite does not compare this
# cell's output; `tests/test_crf_widgets.py` drives the sliders.)

# %% tags=["nbval-ignore-output"]
explorer = crf_explorer(image, probs, label, params=params)
explorer

# %% [markdown]
# ## Choosing w1, σα, σβ on held-out images
#
# DeepLab v1 (§4.3) fixed w2 = 3 and σγ = 3 and searched w1, σα and σβ on a small held-out set
# for the best mean IoU, coarse to fine; v2 (§4.1.1) searched w1 ∈ [3 : 6], σα ∈ [30 : 10 : 100],
# σβ ∈ [3 : 6] on VOC's 500-pixel photographs (`crf.search.PAPER_RANGES`). These scenes are
# 96 pixels wide with flat colours, so we start from a coarse grid of three values per parameter,
# widen a range by one step wherever the best value sits on its edge, then refine around the best
# at half the spacing (`crf.search.coarse_to_fine`) — on scenes the chapter has not used — and
# report on a separate set of test scenes. Every mIoU here comes from one confusion matrix over
# the whole set. A search over a hundred settings or more is where speed matters, so it runs the
# PyTorch lattice (`method="lattice"`), on the GPU when there is one, building each lattice once
# per image and bandwidth pair.

# %%
def make_set(seeds):
    images, labels, probs_ = [], [], []
    for seed in seeds:
        img, lab = book.make_scene(seed=seed, size=SIZE)
        images.append(img)
        labels.append(lab)
        probs_.append(coarse_scores(lab, NUM_CLASSES, seed=seed))
    return images, probs_, labels


held_out = make_set(range(100, 106))
test_set = make_set(range(200, 206))
search = coarse_to_fine(*held_out, NUM_CLASSES, w1=(3, 6, 10), sigma_alpha=(20, 60, 140), sigma_beta=(3, 8, 20),
                        base=CRFParams(w2=3, sigma_gamma=3, iterations=10), widths=[2, 8], method="lattice",
                        device=device, progress=False)
results = search.scores
for k, grid in enumerate(search.rounds):
    print(f"round {k}: " + ", ".join(f"{name} {min(v):g}..{max(v):g} ({len(v)})" for name, v in grid.items()))
print(f"{len(results)} settings scored; the best lies "
      + (f"on the edge of the searched range of {', '.join(search.on_edge)}" if search.on_edge
         else "inside every searched range"))

# %% [markdown]
# The five best settings on the held-out scenes:

# %%
print(" w1  σα  σβ   held-out mIoU")
for r in results[:5]:
    print(f"{r.params.w1:3g} {r.params.sigma_alpha:3g} {r.params.sigma_beta:3g}   {r.miou:.4f}")

# %%
best = results[0].params
for name, setting in [("network alone", None), ("with the CRF", best)]:
    score = score_crf(*test_set, NUM_CLASSES, setting, widths=[2, 8], method="lattice", device=device)
    print(f"{name:<14} test mIoU {score.miou:.4f}, accuracy {score.pixel_accuracy:.4f}, "
          f"trimap accuracy (2 px) {score.trimap_accuracy[2]:.4f}, (8 px) {score.trimap_accuracy[8]:.4f}")

# %% [markdown]
# The objects of the sharpening figure again, with the cross-validated setting instead of the
# hand-set one:

# %%
print(f"cross-validated: w1 {best.w1:g}, σα {best.sigma_alpha:g}, σβ {best.sigma_beta:g}")
print_recall(object_recall(best))

# %% [markdown]
# ## Why *fully connected*: the same CRF cut to a short range
#
# Before DeepLab, CRFs in segmentation were mostly *short-range*: each pixel tied to its few
# neighbours, which smooths a noisy classifier but cannot carry evidence across an object to
# where the scores are wrong. DeepLab v1 (§4) argues that a DCNN's score maps are already
# smooth, so a short-range CRF can only smooth them further, while the task is to recover
# detail; the fully connected CRF's long-range appearance kernel, reaching as far as σα says,
# pulls each pixel towards far-away pixels of its colour instead. The cell takes the cross-validated setting and
# shrinks only the appearance kernel's spatial reach σα to 2 pixels — a contrast-sensitive CRF
# over about a pixel's 8 neighbours — and scores both on the same test scenes:

# %%
short_range = best.replace(sigma_alpha=2)
scores = {name: score_crf(*test_set, NUM_CLASSES, setting, widths=[2, 8], method="lattice", device=device)
          for name, setting in [("network alone", None), ("short-range (σα = 2 px)", short_range),
                                (f"fully connected (σα = {best.sigma_alpha:g} px)", best)]}
for name, score in scores.items():
    print(f"{name:<30} test mIoU {score.miou:.4f}, trimap accuracy (2 px) {score.trimap_accuracy[2]:.4f}")
alone, short, full = scores.values()
print(f"gain over the network alone: short-range {short.miou - alone.miou:+.4f} mIoU, "
      f"fully connected {full.miou - alone.miou:+.4f}; the long reach adds {full.miou - short.miou:+.4f} "
      f"mIoU and {full.trimap_accuracy[2] - short.trimap_accuracy[2]:+.4f} trimap accuracy to the short one")

# %% [markdown]
# How much a short range gains on its own depends on how noisy the scores are: the chapter's
# stand-in scores (`coarse_scores`) carry noise that a short range can clean, and a trained
# network's smoother maps leave it less to do. What the last line measures on any scores is
# what the long reach adds on top — the reason DeepLab's CRF is fully connected.

# %% [markdown]
# ## Bad input
#
# The CRF needs *probabilities* (the softmax of the network's scores) at the image's size.
# Passing raw scores, say, is an error that says so:

# %% tags=["raises-exception"]
dense_crf(image, np.log(probs), params)

# %% [markdown]
# ## Summary
#
# * The CNN's scores are blobby because of invariance and downsampling; their errors sit at
#   boundaries, as the trimap shows.
# * The fully-connected CRF adds pairwise terms between every pair of pixels; mean-field
#   inference lowers KL(Q‖P) step by step.
# * Exact, PyTorch and pydensecrf implementations agree (exactly, or as closely as the lattice
#   approximation allows); the kernel normalisation of the released code is part of the model.
# * Parameters are chosen on held-out images, with w2 = σγ = 3 fixed, as DeepLab v1 did.
#
# `benchmarks/bench_crf_fast.py` times pydensecrf, the strided PyTorch path and the lattice at 500 × 375 with 21 labels.

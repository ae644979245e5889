# %% [markdown]
# # 07 · Training DeepLab v1 LargeFOV
#
# Chapters 01–06 built the pieces; this one trains them. DeepLab v1 (Chen et al., ICLR 2015,
# §4.1) is VGG-16 made dense (output stride 8) with the **LargeFOV** head (fc6 a 3×3
# convolution at rate r = 12, 1024 channels), trained with a short, precise recipe:
#
# * SGD, momentum 0.9, weight decay 0.0005, mini-batches of 20 crops of 321 × 321 (= 8·40 + 1);
# * the new classifier at **10×** the backbone's learning rate;
# * the **step** schedule: the rate ×0.1 every 2000 iterations, 6000 in all;
# * the loss against the ground truth **subsampled 8×** to the score grid;
# * the fully-connected CRF applied afterwards, on the upsampled scores.
#
# The loop is `deeplab_edu/train.py`, one readable file; this chapter calls it. The run
# profile (`DEEPLAB_EDU_PROFILE`) sets the sizes: `smoke` checks that everything runs, `laptop`
# runs for minutes on a CPU, `full` is the paper's recipe on a GPU. The data is the
# built-in offline set unless PASCAL VOC is on disk (chapter 05).

# %%
from pathlib import Path

import matplotlib.pyplot as plt

from deeplab_edu import paths, profiles, runtime
from deeplab_edu.crf import CRFParams
from deeplab_edu.datasets import build_dataset, default_training_data
from deeplab_edu.evaluate import evaluate_with_crf, format_table, per_class_row, results_row
from deeplab_edu.models import build_model
from deeplab_edu.schedules import step_lr
from deeplab_edu.train import TrainConfig, train
from deeplab_edu.viz.training import plot_training_curves

runtime.seed_everything(0)
profile = profiles.get_profile()
device = runtime.default_device()
DATASET, DATA_ROOT = default_training_data(profile.name)  # VOC + SBD if on disk, else built-in
RUNS = paths.REPO_ROOT / "runs" / "07_v1"
print(f"profile {profile.name}, dataset {DATASET}")

# %% tags=["nbval-ignore-output"]
print(runtime.describe_device(device))

# %% [markdown]
# ## The schedule and the model, before any training
#
# v1's step schedule at a few iterations: the base rate until 2000, a tenth of it until 4000,
# a hundredth after. The head's rate is ten times each value. The model's output stride and
# receptive field come from chapters 02 and 06. The cell prints the same in every profile.

# %% tags=["nbval-check-output"]
for it in (0, 1999, 2000, 3999, 4000, 5999):
    print(f"iteration {it:>4}: backbone lr {step_lr(0.001, it):.0e}, head lr {10 * step_lr(0.001, it):.0e}")
v1 = build_model("deeplabv1", 21)
print(f"DeepLab v1 LargeFOV: output stride {v1.output_stride}, receptive field {v1.receptive_field()} px, "
      f"fc6 {tuple(v1.classifier.fc6.kernel_size)} at rate {v1.classifier.fc6.dilation[0]}")

# %% [markdown]
# ## Two ways to compare scores with labels
#
# The network's scores live on a grid 8× coarser than the image. v1 brings the **labels** down
# to that grid (every 8th pixel; the crop is 8·k + 1 so the corners align) — cheap, and the
# paper's choice. v3 later brings the **scores** up to the labels (bilinear upsampling) so every
# labelled pixel counts: thin structures that fall between the grid points are no longer
# invisible to the loss. We train both, with everything else equal.
#
# The step schedule keeps its shape at every size: the iterations are the profile's (6000 at
# most, the paper's count) and the rate drops ×0.1 after each third. In the `full` profile the
# crops and batches are v1's own, 321 × 321 and 20 (the profile's 513 and 16 are v3's).
#
# v1 fine-tunes an ImageNet VGG-16 at a base rate of 0.001. Nothing is downloaded here: in the
# `laptop` profile the small VGG-16 starts from the book's miniature-ImageNet weights
# (`data/pretrained/`; chapter 09 shows what such a start buys), but without batch norm it
# fine-tunes too slowly at 0.001 for a run of minutes, so the base rate is 0.01. The `full`
# profile starts from torchvision's ImageNet VGG-16 when its file lies in `data/imagenet/`
# (`paths.imagenet_root()`; fc6 / fc7 are decimated from its fully connected layers): set
# `lr=0.001` below for the paper's recipe.

# %%
iterations = min(profile.iterations, 6000)
crop_size, batch_size = (321, 20) if profile.name == "full" else (profile.crop_size, profile.batch_size)
runs = {}
for loss in ("downsampled", "upsampled"):
    config = TrainConfig.from_profile(
        "deeplabv1", profile, dataset=DATASET, data_root=DATA_ROOT, loss=loss, schedule="step",
        iterations=iterations, step_size=max(iterations // 3, 1), lr=0.01, weight_decay=5e-4,
        crop_size=crop_size, batch_size=batch_size, out_dir=str(RUNS / loss), seed=0)
    runs[loss] = train(config)
print(f"backbone initialised from {Path(config.pretrained).name if config.pretrained else 'random weights'}")

# %%
plot_training_curves({name: RUNS / name / "log.csv" for name in runs},
                     title="DeepLab v1 LargeFOV: loss vs labels downsampled 8x or scores upsampled")
plt.show()

# %% [markdown]
# ## Evaluation: whole images, one confusion matrix, then the CRF
#
# Each validation image is scored whole (padded to 8·k + 1), one confusion matrix is
# accumulated over the set, and the trimap accuracy counts only pixels within a few pixels of
# a label boundary. The softmax probabilities are saved, and the fully-connected CRF refines
# them with the permutohedral lattice in PyTorch (chapter 11), on the GPU when there is one,
# else on all the CPU's cores. The same saved scores give the "before" and "after".

# %%
val_set = build_dataset(DATASET, "val", root=DATA_ROOT)
crf = CRFParams(iterations=profile.crf_iterations)
rows, class_rows = [], []
for name, result in runs.items():
    before, after = evaluate_with_crf(result.model, val_set, RUNS / name / "scores", crf, trimap_widths=(2, 4),
                                      device=device)
    class_rows.append(per_class_row(f"{name} loss", before))
    rows.append(results_row(f"v1 LargeFOV, {name} loss", before, after, result.seconds, result.device,
                            trimap_width=4))

# %% [markdown]
# ## Results
#
# mIoU and pixel accuracy over the whole validation set, the accuracy in a 4-pixel band around
# boundaries (the trimap), each before and after the CRF, training time and device. In the
# `smoke` profile the network has seen a handful of crops, so the numbers only show that the
# pipeline runs. On the built-in set the `laptop` profile's small VGG-16 starts from the
# miniature-ImageNet backbone (`data/pretrained/`). Without batch norm it learns slowly: in a few
# CPU minutes it finds some of the objects but names few classes (the per-class table says
# which), while the ResNets of chapters 09 and 10 get further in the same time; chapter 09
# trains v3 from random weights for comparison, and it stays at background. The `full`
# profile on a GPU is where the differences between the methods mean something.

# %%
print(f"profile {profile.name}, {len(val_set)} validation images, {iterations} iterations")
print(format_table(rows))
print("\nIoU per class, network alone:")
print(format_table(class_rows))

# %% [markdown]
# ## What to take away
#
# * The recipe is a handful of numbers — momentum, weight decay, 10× head, step schedule, crop
#   8·k + 1 — and `TrainConfig` holds all of them; the profile only changes sizes.
# * The two losses differ in which pixels the network is told about; the trimap column is
#   where the difference would show first.
# * The CRF works on saved scores, after the fact: a separate, parallel step that needs no
#   network (`python -m deeplab_edu crf`). Chapter 11 makes it a trainable layer instead.
# * On the command line the same run is
#   `python -m deeplab_edu train --model deeplabv1 --loss downsampled --schedule step --lr 0.001`.

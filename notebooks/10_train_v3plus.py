# %% [markdown]
# # 10 · Training DeepLab v3+: a decoder for boundaries
#
# DeepLab v3+ (Chen et al., ECCV 2018) keeps v3 as an **encoder** and adds a light **decoder**
# (§3.1): the encoder's scores at output stride 16 are upsampled 4× and fused with stride-4
# features from the backbone, then refined by two 3×3 (depthwise-separable) convolutions. The
# point is boundaries: v1/v2 sharpened them after the fact with a CRF, v3+ does it inside the
# network. So the measure to watch is the **trimap** accuracy — pixels near label edges.

# %%
import matplotlib.pyplot as plt

from deeplab_edu import paths, profiles, runtime
from deeplab_edu.crf import CRFParams
from deeplab_edu.datasets import build_dataset, default_training_data
from deeplab_edu.evaluate import evaluate_with_crf, format_table, per_class_row, results_row
from deeplab_edu.models import build_model
from deeplab_edu.train import TrainConfig, train
from deeplab_edu.viz.training import plot_training_curves

runtime.seed_everything(0)
profile = profiles.get_profile()
device = runtime.default_device()
DATASET, DATA_ROOT = default_training_data(profile.name)  # VOC + SBD if on disk, else built-in
RUNS = paths.REPO_ROOT / "runs" / "10_v3plus"
print(f"profile {profile.name}, dataset {DATASET}")

# %% tags=["nbval-ignore-output"]
print(runtime.describe_device(device))

# %% [markdown]
# ## Where the scores come out
#
# v3's scores sit on the stride-16 grid; v3+'s decoder returns them on the stride-4 grid. The
# cell prints both models' strides and receptive fields (full size, same in every profile).

# %% tags=["nbval-check-output"]
for name in ("deeplabv3", "deeplabv3plus"):
    model = build_model(name, 21)
    print(f"{name:>13}: encoder output stride {model.output_stride}, scores at stride {model.score_stride}, "
          f"receptive field {model.receptive_field()} px")

# %% [markdown]
# ## Train v3 and v3+ with the same recipe
#
# Poly schedule, loss on upsampled scores, output stride 16, the profile's sizes.

# %%
runs = {}
for name in ("deeplabv3", "deeplabv3plus"):
    config = TrainConfig.from_profile(name, profile, dataset=DATASET, data_root=DATA_ROOT, loss="upsampled",
                                      schedule="poly", lr=0.01, out_dir=str(RUNS / name), seed=0)
    runs[name] = train(config)
plot_training_curves({name: RUNS / name / "log.csv" for name in runs}, title="v3 vs v3+")
plt.show()

# %% [markdown]
# ## Evaluation: the trimap at two widths, and the CRF on top of each
#
# If the decoder does the CRF's job, the CRF should add less on top of v3+ than on top of v3.

# %%
val_set = build_dataset(DATASET, "val", root=DATA_ROOT)
crf = CRFParams(iterations=profile.crf_iterations)
rows, class_rows = [], []
for name, result in runs.items():
    scores = RUNS / name / "scores"
    before, after = evaluate_with_crf(result.model, val_set, scores, crf, trimap_widths=(2, 8), device=device)
    class_rows.append(per_class_row(name, before))
    for width in (2, 8):
        rows.append(results_row(f"{name}, trimap {width}px", before, after, result.seconds, result.device,
                                trimap_width=width))

# %% [markdown]
# ## Results
#
# Computed above: mIoU, pixel accuracy and trimap accuracy (2 and 8 pixel bands), before and
# after the CRF, training time and device. Smoke-profile numbers only show the pipeline runs.
# On the built-in set the `laptop` profile's small models start from the
# miniature-ImageNet backbones (`data/pretrained/`) and, in a few CPU minutes, learn to tell
# objects from the background and to name some of the classes (the per-class table says which);
# chapter 09 trains v3 from random weights for comparison, and it stays at background. The
# `full` profile on a GPU is where the differences between the methods mean something.

# %%
print(f"profile {profile.name}, {len(val_set)} validation images, {profile.iterations} iterations")
print(format_table(rows))
print("\nIoU per class, network alone:")
print(format_table(class_rows))

# %% [markdown]
# ## What to take away
#
# * The decoder is cheap (separable convolutions, 48 low-level channels) and works where the
#   stride-16 grid is too coarse: near edges.
# * The trimap column isolates that effect; mIoU over whole images dilutes it.
# * Command line: `python -m deeplab_edu train --model deeplabv3plus`, then `evaluate --trimap 2 8`.

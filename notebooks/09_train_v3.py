# %% [markdown]
# # 09 · Training DeepLab v3: output stride 16, evaluation at 8
#
# DeepLab v3 (Chen et al., 2017, "Rethinking Atrous Convolution") dropped the CRF and moved the
# work into the network: ASPP with batch norm and **image pooling** (global context, §3.3),
# **multi-grid** rates (1, 2, 4) in the last ResNet stage (§3.2), and the loss on scores
# **upsampled** to the labels (§4.1). Its most practical trick is about cost: train at
# **output stride 16** (features 4× smaller than at 8, so batches fit), then **evaluate at output
# stride 8** with the *same weights* — only the dilation rates change — and add multi-scale +
# flip inference on top (§4.3, Table 5).

# %%
import dataclasses
import json
from pathlib import Path

import matplotlib.pyplot as plt

from deeplab_edu import paths, pretrain, profiles, runtime
from deeplab_edu.aspp import v3_rates
from deeplab_edu.datasets import build_dataset, default_training_data
from deeplab_edu.evaluate import evaluate, format_table, per_class_row, results_row
from deeplab_edu.models import build_model
from deeplab_edu.schedules import poly_lr
from deeplab_edu.train import TrainConfig, train
from deeplab_edu.viz.training import plot_training_curves

runtime.seed_everything(0)
profile = profiles.get_profile()
device = runtime.default_device()
DATASET, DATA_ROOT = default_training_data(profile.name)  # VOC + SBD if on disk, else built-in
RUNS = paths.REPO_ROOT / "runs" / "09_v3"
print(f"profile {profile.name}, dataset {DATASET}")

# %% tags=["nbval-ignore-output"]
print(runtime.describe_device(device))

# %% [markdown]
# ## One network, two output strides
#
# At output stride 16 the ASPP rates are (6, 12, 18); at 8 they double, so each branch covers the
# same field in input pixels. The parameter count is identical — the weights of one load into
# the other. The cell prints the same in every profile (full-size ResNet-101).

# %% tags=["nbval-check-output"]
for os_ in (16, 8):
    model = build_model("deeplabv3", 21, output_stride=os_)
    print(f"output stride {os_:>2}: ASPP rates {v3_rates(os_)}, multi-grid (1, 2, 4), "
          f"{sum(p.numel() for p in model.parameters()):,} parameters, image pooling {model.global_context}")
print(f"poly schedule, base 0.007: {[round(poly_lr(0.007, it, 30_000), 5) for it in (0, 10_000, 20_000, 29_999)]}")

# %% [markdown]
# ## Train at output stride 16

# %%
config = TrainConfig.from_profile("deeplabv3", profile, dataset=DATASET, data_root=DATA_ROOT, output_stride=16,
                                  loss="upsampled", schedule="poly", lr=0.01, out_dir=str(RUNS / "os16"), seed=0)
result = train(config)
plot_training_curves({"v3, output stride 16": RUNS / "os16" / "log.csv"}, title="DeepLab v3 training")
plt.show()

# %% [markdown]
# ## What the pretrained backbone buys
#
# DeepLab never starts from random weights: v2 and v3 begin with a ResNet trained on ImageNet
# to name objects, and only fine-tune it. The book cannot download ImageNet, so where a file
# fits, the run above began the same way in miniature: the same small ResNet, first trained to
# name the single object in thousands of small images (`python -m deeplab_edu pretrain`, shipped
# in `data/pretrained/`; the record beside it says how well it names objects it never saw).
# Here the same run again from random weights, everything else equal. Without a shipped file
# (`smoke`) both would be the same run; in `full`, the run starts from torchvision's ImageNet
# ResNet-101 if you put it in `data/imagenet/` (`paths.imagenet_root()`), and a second
# from-scratch run would double hours of GPU time. There the cell only says where it started.

# %%
scratch = None
record_file = Path(config.pretrained).with_suffix(".json") if config.pretrained else None
if record_file is not None and record_file.is_file():
    record = json.loads(record_file.read_text())
    print(f"started from {Path(config.pretrained).name}, pretrained on {record['config']['train_images']:,} "
          f"object images: names {record['val_accuracy']:.0%} of held-out ones "
          f"(chance {1 / pretrain.NUM_CLASSES:.0%})")
    scratch = train(dataclasses.replace(config, pretrained=None, out_dir=str(RUNS / "scratch")))
    plot_training_curves({"pretrained backbone": RUNS / "os16" / "log.csv",
                          "from scratch": RUNS / "scratch" / "log.csv"}, title="DeepLab v3, output stride 16")
    plt.show()
else:
    print(f"started from {Path(config.pretrained).name if config.pretrained else 'random weights'}; "
          f"the comparison with random weights runs where the book ships a backbone (laptop profile)")

# %% [markdown]
# ## Evaluate at 16, at 8, and at 8 with multi-scale + flip
#
# The trained weights are loaded into a model built at output stride 8; nothing else changes.
# Multi-scale inference averages the softmax over input scales (0.75, 1, 1.25 here) and over
# left-right flips.

# %%
val_set = build_dataset(DATASET, "val", root=DATA_ROOT)
os8 = build_model("deeplabv3", result.num_classes, output_stride=8, width=config.width, **config.model_options)
os8.load_state_dict(result.model.state_dict())
os8.to(device)
settings = [("train OS16, eval OS16", result.model, (1.0,), False),
            ("train OS16, eval OS8", os8, (1.0,), False),
            ("eval OS8 + MS + flip", os8, (0.75, 1.0, 1.25), True)]
rows, class_rows = [], []
for name, model, scales, flip in settings:
    scored = evaluate(model, val_set, scales=scales, flip=flip, trimap_widths=(2, 4), device=device)
    rows.append(results_row(name, scored, None, result.seconds, result.device, trimap_width=4))
    class_rows.append(per_class_row(name, scored))
if scratch is not None:
    scored = evaluate(scratch.model, val_set, trimap_widths=(2, 4), device=device)
    rows.append(results_row("from scratch, eval OS16", scored, None, scratch.seconds, scratch.device,
                            trimap_width=4))
    class_rows.append(per_class_row("from scratch, eval OS16", scored))

# %% [markdown]
# ## Results
#
# Computed above: mIoU, pixel and trimap accuracy of the same weights under the three
# inference settings (v3 has no CRF), training time and device. In the smoke profile the
# model has barely trained. On the built-in set the `laptop` profile's small models start from the
# miniature-ImageNet backbones (`data/pretrained/`) and, in a few CPU minutes, learn to tell
# objects from the background and to name some of the classes (the per-class table says which);
# from random weights the same runs predict background everywhere (the table's last row). The
# `full` profile on a GPU is where the differences between the methods mean something.

# %%
print(f"profile {profile.name}, {len(val_set)} validation images, {config.iterations} iterations")
print(format_table(rows))
print("\nIoU per class:")
print(format_table(class_rows))

# %% [markdown]
# ## What to take away
#
# * Output stride is a property of the dilations, not of the weights: train coarse and cheap,
#   evaluate dense.
# * Multi-scale + flip costs several forward passes per image and is applied only at test time.
# * Command line: `python -m deeplab_edu evaluate runs/.../checkpoint.pt --scales 0.75 1 1.25 --flip`.

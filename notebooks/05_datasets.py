# %% [markdown]
# # 05 · Datasets: what a label file holds, and a dataset you can generate
#
# DeepLab was trained and judged on **PASCAL VOC 2012** (20 object classes plus background),
# with extra annotations from the **Semantic Boundaries Dataset** (SBD). Neither can be
# downloaded by this book: on a laptop or in CI we use a **built-in dataset** that a seed
# generates in milliseconds and that is written in exactly VOC's layout, so one reader serves
# both. This chapter looks inside a label file, meets the built-in set, and watches the
# training transforms at work.

# %%
# %matplotlib inline
import contextlib
import json
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image

from deeplab_edu import book
from deeplab_edu.book import (build_dataset, colorize, ConfusionMatrix, describe_label_file,
                              EvalTransform, read_label, to_index, TrainTransform, trimap_band,
                              VOC_CLASSES, VOC_PALETTE)

_ = book.seed_everything(0)

# %% [markdown]
# ## VOC 2012, SBD and "trainaug"
#
# VOC 2012's segmentation lists are small; SBD re-annotated many more VOC images with the same
# classes. DeepLab trains on their union minus every VOC *val* image (validation images must
# never be trained on) — the split everyone calls **trainaug** — and reports mIoU on VOC val.
# The published list sizes (`datasets.trainaug.PUBLISHED_SIZES`):

# %%
for name, count in book.PUBLISHED_SIZES.items():
    print(f"{name:>15}: {count:>6,} images")

# %% [markdown]
# `python -m deeplab_edu convert-sbd` builds trainaug once from the two folders on disk
# (`data/README.md` says where to get them): it converts SBD's MATLAB labels to PNGs and
# writes the split file; `build_dataset("voc_aug", "train")` then reads it. The rule it
# applies is plain set arithmetic, `trainaug_ids`:

# %%
print(book.trainaug_ids(voc_train=["a", "b"], voc_val=["c", "d"], sbd_train=["b", "c", "e"], sbd_val=["f"]))

# %% [markdown]
# ## What a label PNG really holds
#
# Open a VOC label in an image viewer and you see coloured silhouettes on black, outlined in
# cream. The file does **not** store those colours. It is a *palette* PNG (PIL mode `"P"`):
# each pixel stores one byte, the **class index** (0 = background, 1..20 the classes), and a
# 256-entry colour table in the file tells viewers how to paint each index. The outline is
# index **255, "void"**: pixels the annotators would not commit to, which training and the
# benchmark *ignore* — 255 is never background.
#
# The built-in set's labels are written the same way. Here is one from the committed sample
# (the one with the most classes), read as a file:

# %%
sample = build_dataset("sample", "train")
sample_classes = sample.class_names
richest = max(range(len(sample)), key=lambda i: len(np.unique(sample.load(i)[1])))
label_path = sample.label_path(sample.ids[richest])
info = describe_label_file(label_path)
print("file:", label_path.relative_to(book.sample_root()))
print("PIL mode:", info["mode"], " size:", info["size"])
print("first palette entries:", info["palette"][:4].tolist(), "...")
for value, count in info["values"].items():
    print(f"  stores {value:>3} ({sample_classes[value]}) in {count:>5} pixels")

# %% [markdown]
# The palette is VOC's own colour map (`datasets.palette.voc_colormap`, the devkit's bit
# trick: the bits of the index are spread over the high bits of R, G and B). The cell prints
# a few entries, including 255's cream:

# %%
for index in (0, 1, 2, 3, 15, 255):
    name = VOC_CLASSES[index] if index < len(VOC_CLASSES) else "void / ignore"
    print(f"{index:>3} {name:<14} -> RGB {tuple(int(v) for v in VOC_PALETTE[index])}")

# %% [markdown]
# VOC draws its void band along every object outline. To see one on our label we mark the
# pixels within 2 px of a class boundary as 255 (`metrics.trimap_band`), and look at the
# label three ways: as a viewer paints it, as the numbers it stores (indices 0..20 are nearly
# black as grey levels), and zoomed in with every value written out.

# %%
label = read_label(label_path, num_classes=len(sample_classes))
voc_like = label.copy()
voc_like[trimap_band(label, 1)] = 255
rows, cols = np.nonzero(voc_like == 255)
middle = len(rows) // 2  # zoom on a piece of outline
window = (int(np.clip(rows[middle] - 7, 0, label.shape[0] - 14)), int(np.clip(cols[middle] - 7, 0, label.shape[1] - 14)), 14)
fig = book.plot_label_anatomy(voc_like, window=window, class_names=sample_classes)
plt.show()

# %% [markdown]
# Void pixels cost nothing in the loss (`ignore_index=255`) and count nowhere in the
# confusion matrix. The cell counts the pixels a confusion matrix scores, for the plain label
# and for the one with the band, against a prediction of "all background":

# %%
prediction = np.zeros_like(label)
for name, target in (("plain label", label), ("with void band", voc_like)):
    cm = ConfusionMatrix(len(sample_classes)).update(prediction, target)
    print(f"{name:>15}: {int(cm.matrix.sum()):>6} pixels scored of {target.size}, "
          f"{int((target == 255).sum()):>5} ignored")

# %% [markdown]
# ### The classic bug: reading labels as colours
#
# `Image.open(path).convert("RGB")` turns indices into colours, and a network trained on
# those "labels" learns nonsense. Colours go back to indices only through the palette
# (`to_index`, used for files someone saved as RGB by mistake):

# %%
as_rgb = np.asarray(Image.open(label_path).convert("RGB"))
row, col = np.argwhere(label > 0)[0]  # the first object pixel
print("a pixel read as RGB:", as_rgb[row, col].tolist(), "  the index it stands for:", int(label[row, col]))
print("to_index recovers every index:", np.array_equal(to_index(as_rgb), label))

# %% [markdown]
# The readers refuse such a file rather than guess, naming it and saying what was expected:

# %% tags=["raises-exception"]
scratch = Path(tempfile.mkdtemp())
with contextlib.chdir(scratch):  # a short relative path in the message
    Image.fromarray(as_rgb).save("saved_as_rgb.png")
    read_label("saved_as_rgb.png", num_classes=len(sample_classes))

# %% [markdown]
# ## The built-in dataset
#
# `datasets.synthetic.make_scene(seed, size)` paints one to four objects over a smooth, uneven
# background (later objects hide earlier ones). It is built so that what chapters 07–11 measure
# can show on a laptop, and each of its properties is there for one of their lessons:
#
# | property | the lesson it serves |
# |---|---|
# | the class is the object's **shape**; its colour is drawn around its class's **hue family**, and its fill texture comes from a pool shared by all. Most families hold a pair of classes; one class has a family to itself (the cell below the table prints which) | within a pair, neither colour nor texture names the class: the network must see the object at its own scale, the **field of view** of LargeFOV and ASPP (ch. 07–08). The class alone in its family is the exception — its colour names it, which ch. 09 meets in its results. The colour hint helps a small network learn the scenes on a CPU |
# | objects span about 10–80 % of the frame | several scales in one image: **ASPP**, multi-scale inference (ch. 08–09) |
# | fills are saturated and nearly flat on a pale or dark background | boundaries lie on **colour edges** while the network's coarse scores are blurred: the **CRF**'s job (ch. 07, 08, 11) |
# | bars, star arms and ring walls at least 4 px wide (at 160 px) | **thin parts** that output stride 8 and the **decoder** can win and none that cannot be learnt (ch. 09–10) |
# | concave outlines, holes, occlusion, a textured background | a blob is never the right answer; context matters |

# %%
for index, name in enumerate(book.CLASSES):
    if index == 0:
        print(f"{index}  {name:<10}  any hue, but pale or dark (low saturation)")
        continue
    partners = book.colour_family(name)  # the classes only its shape tells it from
    print(f"{index}  {name:<10}  " + (f"hue family shared with {', '.join(partners)}" if partners
                                      else "alone in its hue family: its colour names it"))
print("objects per scene:", f"1 to {book.MAX_OBJECTS}")

# %%
pairs = [book.make_scene(seed, 128) for seed in range(12)]
fig = book.plot_pairs(pairs, book.CLASSES, titles=[f"seed {s}" for s in range(12)])
plt.show()

# %% [markdown]
# The statistics of 300 scenes:

# %%
stats = book.scene_statistics(range(300), 128)
fig = book.plot_statistics(stats["pixel_fraction"], stats["region_area"], stats["region_class"],
                          book.CLASSES, 128)
plt.show()
area = stats["region_area"]
print(f"object regions: {len(area)}, median {int(np.median(area))} px, largest {area.max()} px "
      f"({area.max() / 128**2:.0%} of the frame); {np.mean(area < 20):.0%} are slivers under 20 px "
      f"(occluded objects' edges), holding {area[area < 20].sum() / area.sum():.1%} of the object pixels")
print(f"background: {stats['pixel_fraction'][0]:.0%} of all pixels")

# %% [markdown]
# Background dominates the pixels, as in VOC — the reason pixel accuracy flatters a model
# and the book reports mIoU. Generation is vectorised numpy on each object's bounding box;
# the cell times it on this machine:

# %% tags=["nbval-ignore-output"]
import timeit

seconds = timeit.timeit(lambda: book.make_scene(1, 160), number=50) / 50
print(f"make_scene(size=160): {seconds * 1000:.1f} ms per scene")

# %% [markdown]
# ### On disk, in VOC's layout
#
# `python -m deeplab_edu make-data` (sizes from the run profile; `--train`, `--val`, `--size`,
# `--seed` override them) writes `JPEGImages/`, palette PNGs in `SegmentationClass/`, the
# split lists in `ImageSets/Segmentation/`, and `builtin.json` with the class names and the
# design's format version. Besides `train` and `val` there is a small `holdout` split, drawn like
# `train` but never trained on: the training chapters cross-validate the CRF's parameters there,
# never on the images they score. The same function, into a scratch folder:

# %%
folder = scratch / "builtin"
book.write_builtin(folder, train=4, val=2, size=64, seed=0, progress=False, holdout=1)
for path in sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file()):
    print(path)

# %% [markdown]
# `build_dataset(name, split)` reads it (and VOC, and trainaug) with one reader. An item is
# the pair the models and the loss expect: a float image normalised with ImageNet's mean and
# std, and an int64 label map; the dataset also knows its classes.

# %%
dataset = build_dataset("builtin", "train", root=folder)
image, target = dataset[0]
print(len(dataset), "images, ids", dataset.ids[:2], "...;", dataset.num_classes, "classes")
print("image:", tuple(image.shape), image.dtype, f"mean {image.mean():.2f}")
print("label:", tuple(target.shape), target.dtype, "values", target.unique().tolist())

# %% [markdown]
# A small set generated this way is committed under `data/sample/` for figures like the ones
# above (`build_dataset("sample", split)`); a test regenerates it and checks it still matches
# the generator.

# %% [markdown]
# ## Training transforms
#
# DeepLab augments each training pair jointly (v2 §4): scale by a random factor — v1 did not,
# v2's reference implementation draws it from [0.5, 1.5], v3 and v3+ from [0.5, 2.0], the range
# used below (`deeplab_edu.recipes` cites each) — (image bilinearly, label by nearest neighbour,
# which keeps indices), pad to the
# crop size (image with the mean colour, label with **255** so padding is ignored, not
# called background), take a random crop (321 for v1/v2, 513 for v3/v3+, always
# output_stride·k + 1), flip left-right half of the time, normalise. Six samples of one scene
# with a crop of 129, the cream areas are the ignored padding:

# %%
image, label = book.make_scene(9, 128)
transform = TrainTransform(129, scale=(0.5, 2.0), generator=torch.Generator().manual_seed(0))
samples = [transform(image, label) for _ in range(6)]
fig = book.plot_augmentations(image, label, samples, book.CLASSES)
plt.show()

# %% [markdown]
# Evaluation uses the **whole image**, never a crop: a centre crop would drop pixels the
# benchmark counts. `EvalTransform` only normalises:

# %%
x, y = EvalTransform()(image, label)
print("eval item:", tuple(x.shape), tuple(y.shape), " labels unchanged:", np.array_equal(y.numpy(), label))

# %% [markdown]
# A `DataLoader` batches training crops as usual (they all have the crop size):

# %%
train = build_dataset("sample", "train", transform=TrainTransform(65, generator=torch.Generator().manual_seed(0)))
images, labels = next(iter(torch.utils.data.DataLoader(train, batch_size=4)))
print("batch:", tuple(images.shape), tuple(labels.shape), " ignored pixels:", int((labels == 255).sum()))

# %% [markdown]
# ## Your own VOC and SBD
#
# With VOC 2012 under `data/VOCdevkit/VOC2012` (or wherever `DEEPLAB_EDU_VOC` points) the
# same calls read it; this cell shows the first validation image when it is there. See
# `data/README.md` for downloading, layout and `convert-sbd`.

# %% tags=["nbval-ignore-output"]
if (book.voc_root() / "ImageSets" / "Segmentation" / "val.txt").is_file():
    voc = build_dataset("voc", "val")
    print(voc)
    fig = book.plot_pairs([voc.load(0)], VOC_CLASSES, titles=[voc.ids[0]], columns=1)
    plt.show()
else:
    print(f"no VOC 2012 at {book.voc_root()}: the book uses the built-in set")

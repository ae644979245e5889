# %% [markdown]
# # 00 · A tour of the book
#
# This is a runnable textbook about **DeepLab**, the family of semantic-segmentation models
# from Google (Chen, Papandreou, Kokkinos, Murphy, Yuille, and later Zhu, Schroff, Adam).
# Semantic segmentation gives every pixel a class label. The difficulty DeepLab attacks is
# that the networks we borrow from image classification were built to *forget where things
# are*: each max-pooling and stride makes the features coarser and more invariant to small
# shifts. That is exactly right for "is there a cat?", and exactly wrong for "which pixels are
# the cat?".
#
# Every version of DeepLab is an answer to that tension:
#
# | version | paper | what it added | why |
# |---|---|---|---|
# | v1 | *Semantic Image Segmentation with Deep Convolutional Nets and Fully Connected CRFs* (ICLR 2015) | atrous ("hole") convolution in VGG-16 and the **LargeFOV** fc6; a fully-connected CRF on top | keep the feature maps dense (output stride 8, not 32) without shrinking the receptive field; recover sharp boundaries the CNN blurs |
# | v2 | *DeepLab: … Atrous Convolution, and Fully Connected CRFs* (TPAMI 2017) | **ASPP** (parallel atrous branches at several rates), ResNet-101, multi-scale inputs, poly learning rate | objects come at many scales; look at each pixel with several fields of view at once |
# | v3 | *Rethinking Atrous Convolution for Semantic Image Segmentation* (2017) | ASPP with batch norm and **image pooling**, multi-grid rates, output stride 16 / 8, no CRF | very large rates degenerate to 1×1 filters near borders; global context has to come from somewhere else |
# | v3+ | *Encoder-Decoder with Atrous Separable Convolution* (ECCV 2018) | a light **decoder** on stride-4 features, depthwise-separable convolutions | sharpen boundaries inside the network instead of with a CRF, and cheaply |
#
# The book follows that story. Each chapter explains one idea, shows it with a figure or a
# slider, and calls the small package `deeplab_edu` that implements it — once in a readable
# way (the paper's formula, written out) and once in the fast way (a PyTorch op, pydensecrf,
# the GPU), with a test holding the two equal.

# %% [markdown]
# ## How to read and run the book
#
# * `make lab` opens JupyterLab on this folder (it creates `.venv` and installs everything the
#   first time). `make test` runs every test and every chapter.
# * Each chapter is a pair of files: `NN_topic.py` is the source you read and edit (it is a
#   plain Python file; `# %%` starts a cell), and `NN_topic.ipynb` is the same chapter with its
#   outputs, so the figures show on a code host. `make sync` brings the `.ipynb` in line after
#   you edit the `.py`.
# * Every number a chapter states is printed by a cell, from the package. If you change the
#   code, the numbers change with it, and the tests tell you which claim moved.
# * Run cells top to bottom. Every chapter seeds its randomness in its first cell, so what you
#   see is what the committed outputs show.

# %%
import deeplab_edu
from deeplab_edu import environment, paths, profiles, runtime

runtime.seed_everything(0)
print("deeplab_edu", deeplab_edu.__version__)

# %% [markdown]
# ## The run profile: one switch for how big runs are
#
# The training chapters run the *same code* at three sizes. The environment variable
# `DEEPLAB_EDU_PROFILE` chooses one (set it before starting JupyterLab, e.g.
# `DEEPLAB_EDU_PROFILE=laptop make lab`); when it is unset you get `full` on a machine with an
# NVIDIA GPU and `laptop` elsewhere. The test suite uses `smoke`.

# %%
for profile in profiles.PROFILES.values():
    print(f"{profile.name:>6}: crop {profile.crop_size:>3}, batch {profile.batch_size:>2}, "
          f"{profile.iterations:>6} iterations, {profile.train_images:>6} training images, "
          f"width x{profile.width:g} — {profile.description}")

# %% [markdown]
# A misspelt profile is an error that names the choices, rather than a silent fallback:

# %% tags=["raises-exception"]
profiles.get_profile("lapotp")

# %% [markdown]
# ## How long each chapter takes
#
# Measured, not guessed: whenever a chapter is executed and recorded
# (`python -m tools.execute_notebooks notebooks/NN_topic.py`, or `make notebooks`), its
# `.ipynb` keeps the wall time, the run profile and the machine under the notebook metadata key
# `deeplab_edu.execution`. The cell reads them from the committed notebooks. This chapter's own
# row is its previous recorded run. A row names the profile, the machine and the load average
# (a chapter timed beside other work reads slower than the CPU is) and, where recorded, the
# host's speed: how long chapter 07's `laptop` training step took there right after the chapter
# (hosts that report the same CPU differ). Expect other times on yours.

# %% tags=["nbval-ignore-output"]
import json

runs = {}
for notebook in sorted((paths.REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
    runs[notebook.stem] = json.loads(notebook.read_text())["metadata"].get("deeplab_edu", {}).get("execution")
machines = sorted({run["machine"] for run in runs.values() if run})
for chapter, run in runs.items():
    if run is None:
        print(f"{chapter:<26} not recorded")
    else:
        load = f", load average {run['load_average_15min']:g}" if "load_average_15min" in run else ""
        speed = f", step {run['reference_step_ms']:.0f} ms" if "reference_step_ms" in run else ""
        print(f"{chapter:<26} {run['wall_s'] / 60:5.1f} min  {run['profile']:<7} "
              f"machine {machines.index(run['machine']) + 1}{load}{speed}")
training = [run for chapter, run in runs.items() if "_train_" in chapter]
if training and all(training) and len({run["profile"] for run in training}) == 1:
    print(f"the {len(training)} training chapters together: {sum(run['wall_s'] for run in training) / 60:.0f} min "
          f"({training[0]['profile']} profile)")
for number, machine in enumerate(machines, 1):
    print(f"machine {number}: {machine}")

# %% [markdown]
# ## Check your environment
#
# The first cell worth running on a new machine. It lists the versions the book depends on,
# whether PyTorch sees a GPU, whether `pydensecrf` (installed from PyPI as `pydensecrf2`)
# imports, the active profile, and where datasets will be read from. Lines marked `--` are
# missing; each says what to do about it. The same report is `python -m deeplab_edu env`.

# %% tags=["nbval-ignore-output"]
print(environment.format_report())

# %% [markdown]
# ## Where data comes from
#
# Nothing in the book downloads anything. PASCAL VOC 2012 and SBD are read from local folders
# (`data/README.md` says how to get them and where to put them); when they are absent the
# chapters use the **built-in dataset**, generated offline from a seed in the same VOC layout,
# so every chapter runs on any machine. The folders, each movable with an environment variable:

# %% tags=["nbval-ignore-output"]
for name, where in [("data root (DEEPLAB_EDU_DATA)", paths.data_root()),
                    ("VOC 2012 (DEEPLAB_EDU_VOC)", paths.voc_root()),
                    ("SBD (DEEPLAB_EDU_SBD)", paths.sbd_root()),
                    ("built-in (DEEPLAB_EDU_BUILTIN)", paths.builtin_root())]:
    print(f"{name:<32} {where}  [{'present' if where.exists() else 'absent'}]")

# %% [markdown]
# ## The chapters
#
# 1. **Atrous convolution in 1-D** — the formula y[i] = Σ_k x[i + r·k]·w[k], the rate as the
#    input's sampling stride.
# 2. **Receptive field** — how kernel, stride and rate set what one output sees; DeepLab's
#    VGG-16 and ResNet tables; a slider explorer.
# 3. **The hole algorithm** — three ways to compute atrous convolution; sparse vs dense
#    feature extraction; how DeepLab turns FCN's 32s into 8s.
# 4. **The fully-connected CRF** — the energy, mean-field inference, sharpening blobby scores.
# 5. onwards: the datasets, the models (v1 LargeFOV, v2 ASPP, v3, v3+) and training them.
#
# The README keeps the up-to-date list with links.

"""deeplab_edu — a runnable textbook for the DeepLab family of segmentation models.

Each idea lives in one short module named for it (``atrous``, ``receptive_field``,
``hole``, ``aspp``, ``crf``, ``models`` ...); the notebooks in ``notebooks/`` explain
and call them. Importing the package is cheap: submodules are imported where used.
"""

__version__ = "0.1.0"

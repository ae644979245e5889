"""``python -m deeplab_edu gpu-check --out DIR``: one command that measures the book's GPU path.

GPU time is rare and short, so everything the book claims about GPUs is measured by this one
prepared command, run once, in under 9 minutes on one H100-class GPU. One file per concern:

=================  ==========================================================================
``environment``    stage 1: GPU, memory, torch / CUDA / cuDNN / NCCL versions, the dense bf16
                   peak (``datasheet``) and a measured bf16 matrix-product rate
``throughput``     stage 2: the engine's training step and inference against torchvision's
                   ``deeplabv3_resnet101`` in the loop a user writes (fp32; bf16; + channels-last;
                   + compile): images/s, peak memory, TFLOP/s and share of the peak
``crf_bench``      stage 3: the dense CRF by the permutohedral lattice in PyTorch, 500×375, 21
                   labels, against pydensecrf (or the CPU lattice)
``training``       stage 4: full-width v3-ResNet-101 through ``TrainConfig`` / ``train`` for a
                   time budget, then whole-image evaluation and the data path's images/s
``distributed``    stage 5: torchrun, NCCL, SyncBatchNorm and DDP (``ddp_worker`` is the child)
``projection``     stage 6: each chapter's runs in each run profile, projected from FLOPs
                   (``engine.estimate``) and, on a GPU, from timed warm-up steps
``stage``          what a stage is given (``Context``, ``Budget``) and returns (``StageResult``)
``sizes``          how big each stage runs: ``gpu``, or ``tiny`` in seconds on a CPU
``stages``         the stages in order, and how one runs: within its budget, failures reported
``report``         ``report.json``: schema ``SCHEMA``, checked by ``validate_report``
``markdown``       ``report.md``
``cli``            the options and the run
=================  ==========================================================================

Each stage prints a progress line, has its own time budget, and a failing stage is reported
with its error without stopping the others. Without CUDA every stage runs at a tiny size in
seconds (so CI keeps the command from rotting) and the report says the GPU figures are
unmeasured. Needs only torch, NumPy and Pillow: tqdm, torchvision, SciPy and pydensecrf are
used when importable (``deeplab_edu.progress`` draws no bar without tqdm) and their absence is
reported, not fatal.
"""

from deeplab_edu.gpu_check.cli import add_arguments, main, run

__all__ = ["add_arguments", "main", "run"]

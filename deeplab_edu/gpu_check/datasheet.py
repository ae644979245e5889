"""The GPU datasheet: each GPU's dense peak, the denominator of every "share of peak".

Dense (no sparsity) tensor-core peaks in TFLOP/s from the vendors' datasheets. A T4 (Turing)
has no bf16 units: its fp16 peak (65 TFLOP/s) is what mixed precision reaches there.
"""

from __future__ import annotations


# Matched against torch.cuda.get_device_name in this order (the more specific name first).
BF16_PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H200 NVL", 835.0),
    ("GH200", 989.0), ("H100", 989.0), ("H200", 989.0), ("H800", 989.0), ("B200", 2250.0),
    ("A100", 312.0), ("A800", 312.0), ("L40S", 362.0), ("L4", 121.0),
    ("RTX 6000 Ada", 364.0), ("RTX A6000", 155.0), ("RTX 4090", 165.0), ("RTX 3090", 71.0),
)


def bf16_peak_tflops(gpu_name: str) -> float | None:
    """The datasheet's dense bf16 peak for a GPU named like ``NVIDIA H100 80GB HBM3``, or None."""
    return next((peak for key, peak in BF16_PEAK_TFLOPS if key.lower() in gpu_name.lower()), None)

"""``python -m deeplab_edu.gpu_check``: the same as ``python -m deeplab_edu gpu-check``."""

import sys

from deeplab_edu.gpu_check.cli import main

sys.exit(main())

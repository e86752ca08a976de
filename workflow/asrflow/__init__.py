"""asrflow: a Kaldi-style hybrid ASR pipeline; one subpackage per pipeline stage."""

import os
import platform
from pathlib import Path

__version__ = "0.1.0"

# numpy/scipy's OpenBLAS and torch's MKL, ATen and oneDNN choose their kernels per CPU model, and kernels
# sum in different orders: the same seed trained bit-different models on different machines (yesno tri3
# 0.00 or 0.43% by the OpenBLAS core alone). One AVX2 code path for all is meant to make a run the same
# on any x86-64 CPU with AVX2 (checked on an AMD EPYC and an Intel Xeon). The libraries read these when
# they load, so this runs before numpy or torch is imported (every stage runs as
# `python -m asrflow.<stage>`); a value already in the environment wins.
X86_64_KERNELS = {
    "OPENBLAS_CORETYPE": "Haswell",
    "MKL_CBWR": "COMPATIBLE",
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
}


def cpu_has_avx2() -> bool:
    """Whether this is an x86-64 CPU that runs AVX2 + FMA code (the pinned kernels), from /proc/cpuinfo."""
    if platform.machine() != "x86_64":
        return False
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return False
    return {"avx2", "fma"} <= set(flags.split())


if cpu_has_avx2():
    for _name, _value in X86_64_KERNELS.items():
        os.environ.setdefault(_name, _value)

"""bench/torch_threads.py - give the PyTorch peer a fixed CPU budget.

torch.set_num_threads(N) sizes only torch's own OpenMP pool. Debian's torch
runs its matrix products in OpenBLAS (the pthreads build), whose own pool is
sized by OPENBLAS_NUM_THREADS or, unset, by the machine's core count. So a
"1-thread" torch run still multiplies matrices on every core, and an
"N-thread" one has two pools of N threads taking turns, OpenBLAS's spinning
while torch's work (measured on 2 cores, nanoGPT's Shakespeare model: 173.6
ms/iter for torch 2 + BLAS 2, against 54.0 for torch 1 + BLAS 2).

set_threads() sizes both pools explicitly, calling openblas_set_num_threads
in the BLAS library this process has loaded, and reads both back for the
JSON line. A benchmark then states exactly which cores the peer used.
"""
import ctypes


def loaded_blas():
    """The OpenBLAS this process has loaded (through torch) as (path, ctypes
    library), or (None, None)."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if path.startswith("/") and ("openblas" in path or "libblas" in path):
                try:
                    lib = ctypes.CDLL(path)  # the handle of the already loaded library
                    lib.openblas_set_num_threads  # an OpenBLAS, not the reference BLAS
                    return path, lib
                except (OSError, AttributeError):
                    continue
    return None, None


def set_threads(torch, threads, blas_threads):
    """torch's pool to `threads`, OpenBLAS's to `blas_threads` (0 = leave as
    is); returns the sizes read back from both."""
    if threads > 0:
        torch.set_num_threads(threads)
    path, lib = loaded_blas()
    if lib and blas_threads > 0:
        lib.openblas_set_num_threads(blas_threads)
    blas = lib.openblas_get_num_threads() if lib else 0
    return {"threads": torch.get_num_threads(), "blas_threads": blas, "blas": path or "none found"}

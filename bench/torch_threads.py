"""bench/torch_threads.py - give the PyTorch peer a fixed CPU budget.

torch.set_num_threads(N) sizes only torch's own OpenMP pool. Debian's torch
runs its matrix products in OpenBLAS (the pthreads build), whose own pool is
sized by OPENBLAS_NUM_THREADS or, unset, by the machine's core count. So a
"1-thread" torch run still multiplies matrices on every core, and an
"N-thread" one has two pools of N threads taking turns, OpenBLAS's spinning
while torch's work (measured on 2 cores, nanoGPT's Shakespeare model: 173.6
ms/iter for torch 2 + BLAS 2, against 54.0 for torch 1 + BLAS 2).

set_threads() sizes both pools explicitly, calling openblas_set_num_threads
in the BLAS library this process has loaded, and returns what it set, for the
JSON line. A benchmark then states exactly which cores the peer used.
"""
import ctypes


def loaded_blas():
    """Path of the OpenBLAS this process has loaded (through torch), or None."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if path.startswith("/") and ("openblas" in path or "libblas" in path):
                try:
                    lib = ctypes.CDLL(path)
                    lib.openblas_set_num_threads  # an OpenBLAS, not the reference BLAS
                    return path
                except (OSError, AttributeError):
                    continue
    return None


def set_threads(torch, threads, blas_threads):
    """torch's pool to `threads`, OpenBLAS's to `blas_threads` (0 = leave as is)."""
    if threads > 0:
        torch.set_num_threads(threads)
    path = loaded_blas()
    if blas_threads > 0 and path:
        ctypes.CDLL(path).openblas_set_num_threads(blas_threads)
    blas = blas_threads
    if path and blas_threads <= 0:
        try:
            blas = ctypes.CDLL(path).openblas_get_num_threads()
        except AttributeError:
            blas = 0
    return {"threads": torch.get_num_threads(), "blas_threads": blas, "blas": path or "none found"}

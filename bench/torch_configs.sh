# bench/torch_configs.sh - sourced by the benchmark scripts: the thread
# configurations the PyTorch peer runs in for a budget of N cores.
#
# torch has two thread pools, its own and OpenBLAS's (bench/torch_threads.py),
# and which split is fastest depends on the model: on 2 cores, nanoGPT's
# Shakespeare model trains at 156 ms/iter with both pools at 2 and at 44 with
# torch 1 + OpenBLAS 2; the small model's prefill runs 5x faster with torch 1 +
# OpenBLAS 2 than with both at 2. So the peer runs "TORCH:BLAS" in each of
# N:N, 1:N and N:1 and each metric keeps its best: mmgen is compared with
# PyTorch at its fastest on the same cores. TORCH_CONFIGS="2:2 1:2" overrides.
torch_configs() {
    if [ -n "${TORCH_CONFIGS:-}" ]; then
        echo "$TORCH_CONFIGS"
    elif [ "$1" -gt 1 ]; then
        echo "$1:$1 1:$1 $1:1"
    else
        echo "1:1"
    fi
}

#!/usr/bin/env bash
# Benchmark: seconds per iteration and peak memory of stylize (fp32 and bf16;
# CUDA too when present) against the same algorithm in PyTorch eager mode
# (scripts/reference_pytorch.py), at 256, 512 and 1024 px, in one run on this
# machine, with the convolution roofline (scripts/roofline.py: VGG19's 14
# convolutions alone, forward + input gradient, in this machine's oneDNN) and
# stylize's fraction of it, after which oneDNN kernels run (ONEDNN_VERBOSE);
# then time-to-loss of the optimizer and coarse-to-fine settings.
#
#   scripts/bench.sh                    # everything (about 15-25 minutes on 2 cores)
#   BENCH_SIZES="256 512" scripts/bench.sh
#   BENCH_SKIP_TTL=1 scripts/bench.sh   # skip the time-to-loss part
#   BENCH_TTL_SIZE=128 scripts/bench.sh # time-to-loss at another size (default 256)
#   scripts/bench.sh ttl                # the time-to-loss part alone
#   scripts/bench.sh kernels            # which oneDNN kernels run an iteration (ONEDNN_VERBOSE), per
#                                       # precision; on an AMX CPU, the AMX share of the bf16 convolutions
#   scripts/bench.sh lbfgs              # L-BFGS and Adam in stylize and in PyTorch (torch.optim.LBFGS) on
#                                       # one objective (BENCH_LBFGS_SIZE, _EVALUATIONS; about 8 minutes on 2 cores)
#   scripts/bench.sh video              # stylize video: seconds per frame and flicker,
#                                       # independent vs temporal (BENCH_VIDEO_SIZES, _FRAMES, _ITERATIONS)
#   scripts/bench.sh fast               # time to a finished image at 512 px: the tutorial's 1000
#                                       # iterations against --preset fast and its levers, every output's
#                                       # loss evaluated in fp32 (BENCH_FAST_SIZE; about 45 minutes on 2 cores)
#   scripts/bench.sh tiles              # --tile: s/iter and peak memory at 2048 and 4096 px, whole
#                                       # and in 512/1024 px tiles (BENCH_TILE_SIZES, _ITERATIONS)
#
# Uses the real weights when found (STYLIZE_WEIGHTS, models/vgg19.safetensors),
# else full-size VGG19 weights made with a fixed seed (build/bench/, never committed).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh" >&2
torch_python="${PYTHON:-/usr/bin/python3}"
if ! "$torch_python" -c "import torch" 2>/dev/null; then
  echo "bench: the PyTorch reference needs Debian's python3-torch (sudo apt-get install python3-torch)" >&2
  exit 1
fi
exec "$torch_python" "$root/scripts/bench.py" "$@"

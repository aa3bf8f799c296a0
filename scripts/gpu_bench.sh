#!/usr/bin/env bash
# Builds stylize against a GPU machine's CUDA LibTorch (PyTorch's) and measures
# it there (README, "On a GPU"): 1000 iterations at 512 px end to end, start-up
# included; 8 styles as one batch against 8 separate runs; fp32 losses on the GPU
# against the CPU's. Run from the repository root on that machine, with the kit
# of scripts/gpu_kit.sh in .gpukit/ (the device tool: carry .gpukit). Writes its
# log and outputs to $OUT (else build-cuda/out).
#
#   scripts/gpu_bench.sh            # about 5 minutes on one H100 or H200 (2-3 of them building)
#   GPU_BENCH_BUILD_ONLY=1 scripts/gpu_bench.sh
#   GPU_BENCH_DRY_RUN=1 GPU_BENCH_STYLIZE=build/stylize scripts/gpu_bench.sh
#                                   # the measurements' steps on the CPU, tiny weights, 64 px, 20 iterations
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kit="$root/.gpukit"
build="$root/build-cuda"
out="${OUT:-$build/out}"
work="$build/work"
mkdir -p "$out" "$work"
exec > >(tee "$out/gpu_bench.log") 2>&1
section() { echo; echo "== $* ($(date +%T))"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.2f", b - a}'; }

section machine
nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap,clocks.max.sm --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn",
            torch.backends.cudnn.version(), "cxx11abi", torch.compiled_with_cxx11_abi())'
torch_prefix="${TORCH_PREFIX:-$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')}"
cuda_home="${CUDA_HOME:-}"
if [ -z "$cuda_home" ]; then
  nvcc_path="$(command -v nvcc || ls /usr/local/cuda*/bin/nvcc 2>/dev/null | head -1)"
  [ -n "$nvcc_path" ] && cuda_home="$(dirname "$(dirname "$(readlink -f "$nvcc_path")")")"
fi
echo "torch cmake: $torch_prefix; CUDA: ${cuda_home:-not found}"
"$cuda_home/bin/nvcc" --version | tail -1
g++ --version | head -1; cmake --version | head -1; ldd --version | head -1
echo "$(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"

device=cuda size=512 iterations=1000
if [ -n "${GPU_BENCH_DRY_RUN:-}" ]; then
  device=cpu size=64 iterations=20
  export GPU_BENCH_WEIGHTS="${GPU_BENCH_WEIGHTS:-$root/tests/fixtures/vgg19_tiny.safetensors}"
fi
libdir="$kit/prefix/lib/x86_64-linux-gnu"
if [ -n "${GPU_BENCH_STYLIZE:-}" ]; then
  stylize="$(readlink -f "$GPU_BENCH_STYLIZE")"
else
section building
# NVTX 3's headers (CUDA's, or PyTorch's nvidia-nvtx package): without them
# Torch's CMake files fall back to the old libnvToolsExt, which CUDA 12.9 dropped.
nvtx3="$(ls -d "$cuda_home"/include/nvtx3 "$cuda_home"/targets/*/include/nvtx3 \
  "$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))' 2>/dev/null)"/nvidia/*/include/nvtx3 \
  2>/dev/null | head -1)"
nvtx3_dir="${nvtx3:+$(dirname "$nvtx3")}"
echo "NVTX 3 headers: $nvtx3_dir"
start=$EPOCHREALTIME
configure() {
  PATH="$cuda_home/bin:$PATH" cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DSTYLIZE_BUILD_TESTS=OFF -DCMAKE_EXE_LINKER_FLAGS="-L$libdir -Wl,-rpath-link,$libdir ${1:-}" \
    -DCMAKE_PREFIX_PATH="$torch_prefix;$kit/prefix;$kit/opencv" -DOpenCV_DIR="$kit/opencv/lib/cmake/opencv4" \
    -DHDF5_ROOT="$libdir/hdf5/serial" -DPKG_CONFIG_EXECUTABLE="$kit/prefix/bin/pkg-config" \
    -DCUDAToolkit_ROOT="$cuda_home" -DCUDA_TOOLKIT_ROOT_DIR="$cuda_home" -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
    ${nvtx3_dir:+-Dnvtx3_dir="$nvtx3_dir"} >"$out/configure.log" 2>&1
}
if ! configure; then
  tail -40 "$out/configure.log"
  echo "gpu_bench: configure failed (whole log: configure.log)"
  exit 1
fi
grep -E "Caffe2|CUDA|cuDNN|oneDNN|stylize" "$out/configure.log" | head -20
if ! cmake --build "$build" --target stylize -j "$(nproc)" >"$out/build.log" 2>&1; then
  grep -E -B2 -A8 "error|Error" "$out/build.log" | head -80
  echo "gpu_bench: build failed (whole log: build.log)"
  exit 1
fi
grep -c "warning:" "$out/build.log" | sed 's/^/compiler warnings: /'
grep -m5 "warning:" "$out/build.log"
echo "built in $(since "$start") s"
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
stylize="$build/stylize"
# A linker that drops unused libraries (--as-needed, Ubuntu's default) can drop
# libtorch_cuda, which registers CUDA when loaded: then link it anyway.
if [ -z "$cuda_home" ] || ldd "$stylize" | grep -q libtorch_cuda; then
  :
elif configure "-Wl,--no-as-needed" && cmake --build "$build" --target stylize -j "$(nproc)" >>"$out/build.log" 2>&1; then
  echo "relinked with --no-as-needed: libtorch_cuda had been dropped"
fi
ldd "$stylize" | grep -E "torch|c10|not found"
[ -n "${GPU_BENCH_BUILD_ONLY:-}" ] && exit 0
fi

section weights
weights="${GPU_BENCH_WEIGHTS:-$work/vgg19.safetensors}"
found="$(timeout 20 find /root /home /opt /data /models /workspace /mnt /srv /var/cache /usr/share \
         \( -name 'vgg19-*.pth' -o -path '*vgg19*' -name '*.safetensors' \) 2>/dev/null | head -1)"
if [ -n "$found" ] && [ -z "${GPU_BENCH_WEIGHTS:-}" ]; then
  echo "cached VGG19 weights: $found"
  case "$found" in
    *.pth) python3 "$root/scripts/convert_weights.py" "$found" "$weights" --convention torchvision ;;
    *) python3 -c 'import sys, torch, safetensors.torch as st; torch.save(st.load_file(sys.argv[1]), sys.argv[2])' \
         "$found" "$work/timm.pth" &&
       python3 "$root/scripts/convert_weights.py" "$work/timm.pth" "$weights" --convention torchvision ;;
  esac
fi
if [ ! -s "$weights" ]; then
  echo "no cached VGG19 weights: full-size random weights (fixed seed), which cost the same time"
  python3 "$root/scripts/make_fixtures.py" --full-size "$weights" >/dev/null
fi
ls -la "$weights"

images="$kit/images"
content="$images/tubingen.jpg"
styles=(starry_night great_wave the_scream composition_vii la_grande_jatte sunflowers shipwreck water_lilies)
mkdir -p "$work/styles"
for s in "${styles[@]}"; do ln -sf "$images/$s.jpg" "$work/styles/$s.jpg"; done
# The time of one command, start-up included, in seconds ($wall), and the GPU
# memory in use at its peak ($gpu_mib, sampled every 100 ms by nvidia-smi).
timed() {
  local t0=$EPOCHREALTIME
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$work/memory.log" 2>/dev/null &
  local sampler=$!
  "$@" >"$work/last.log" 2>&1
  local rc=$?
  wall="$(since "$t0")"
  kill $sampler 2>/dev/null; wait $sampler 2>/dev/null
  gpu_mib="$(sort -n "$work/memory.log" | tail -1)"
  [ $rc -eq 0 ] || { echo "FAILED (exit $rc): $*"; tail -5 "$work/last.log"; }
  return $rc
}
summary() {  # report.json: precision, iterations, median and first iteration's seconds, final loss
  python3 - "$1" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))
for run in r["runs"]:
    its = run["iterations"]
    s = [i["seconds"] for i in its]
    print(f'  {r["device"]} {r["precision"]}: {len(its)} iterations in {run["seconds"]:.2f} s, first {s[0]*1000:.1f} ms, '
          f'median {statistics.median(s[1:] or s)*1000:.2f} ms/it, final loss {its[-1]["total"]:.6g}, '
          f'peak {r["peak_memory_mib"]:.0f} MiB, {run["output"].split("/")[-1]}')
PY
}
common=(--weights "$weights" -q)

section "smoke test (128 px, 20 iterations, verbose)"
"$stylize" -c "$content" -s "$images/starry_night.jpg" -o "$work/smoke.png" --size 128 -n 20 --device "$device" \
  --weights "$weights" -v 2>&1 | tail -12
echo "exit ${PIPESTATUS[0]}"

section "fp32 losses on the GPU against the CPU (256 px, 10 iterations)"
for on in cpu "$device"; do
  timed "$stylize" -c "$content" -s "$images/starry_night.jpg" -o "$work/parity_$on.png" --size 256 -n 10 \
    --precision fp32 --device "$on" --report "$work/parity_$on.json" "${common[@]}"
done
python3 - "$work/parity_cpu.json" "$work/parity_$device.json" "$device" <<'PY'
import json, sys
a, b = (json.load(open(p))["runs"][0]["iterations"] for p in sys.argv[1:3])
worst = max(abs(x["total"] - y["total"]) / abs(x["total"]) for x, y in zip(a, b))
print(f"  iteration losses, cpu: {[round(x['total'], 3) for x in a[:3]]} ... {a[-1]['total']:.6g}")
print(f"  iteration losses, {sys.argv[3]}: {[round(x['total'], 3) for x in b[:3]]} ... {b[-1]['total']:.6g}")
print(f"  largest relative difference over {len(a)} iterations: {worst:.2e}")
PY

section "$iterations iterations at $size px, end to end (the tutorial's settings; auto precision)"
for run in 1 2 3; do
  timed "$stylize" -c "$content" -s "$images/starry_night.jpg" -o "$out/tubingen_starry_$size.png" --size "$size" \
    -n "$iterations" --device "$device" --report "$work/main_$run.json" "${common[@]}" && echo "run $run: $wall s end to end, GPU memory at most $gpu_mib MiB" &&
    summary "$work/main_$run.json"
done
main_wall="${wall:-99}"
timed "$stylize" -c "$content" -s "$images/starry_night.jpg" -o "$work/fp32.png" --size "$size" -n 300 \
  --precision fp32 --device "$device" --report "$work/fp32.json" "${common[@]}" && echo "fp32, 300 iterations: $wall s" &&
  summary "$work/fp32.json"
timed "$stylize" -c "$content" -s "$images/starry_night.jpg" -o "$work/fast.png" --size "$size" --preset fast \
  --device "$device" --report "$work/fast.json" "${common[@]}" && echo "--preset fast: $wall s end to end" &&
  summary "$work/fast.json"

# 8 x 1000 iterations where one run takes under 20 s, else 8 x 300 (to stay within the device tool's 10 minutes).
n=$iterations
awk -v w="$main_wall" 'BEGIN {exit !(w > 20)}' && n=300
section "8 styles at $size px, $n iterations each: 8 separate runs against one batch"
t0=$EPOCHREALTIME
for s in "${styles[@]}"; do
  timed "$stylize" -c "$content" -s "$images/$s.jpg" -o "$work/separate_$s.png" --size "$size" -n $n --device "$device" \
    "${common[@]}" || break
done
echo "8 separate runs: $(since "$t0") s"
timed "$stylize" -c "$content" -s "$work/styles" --each-style --batch 8 --output-template "$work/batch/{style}.png" \
  --size "$size" -n $n --device "$device" --report "$work/batch.json" "${common[@]}" && echo "one batch of 8: $wall s, GPU memory at most $gpu_mib MiB" &&
  summary "$work/batch.json" | head -3
python3 - "$work" "${styles[@]}" <<'PY'
import sys, cv2, numpy as np
work, styles = sys.argv[1], sys.argv[2:]
for s in styles:
    a = cv2.imread(f"{work}/separate_{s}.png").astype(np.float64)
    b = cv2.imread(f"{work}/batch/{s}.png").astype(np.float64)
    print(f"  {s}: batch against separate run, mean |difference| {np.abs(a - b).mean():.3f} of 255, "
          f"largest {np.abs(a - b).max():.0f}")
PY
cp "$work/batch/great_wave.png" "$out/tubingen_great_wave_batch.png" 2>/dev/null
nvidia-smi --query-gpu=name,memory.used,temperature.gpu,clocks.sm --format=csv,noheader
section finished

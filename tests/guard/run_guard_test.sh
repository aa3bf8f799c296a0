#!/usr/bin/env bash
# GuardPages: stylize's main paths run with every heap block ending at a page
# with no access (guard_alloc.c, LD_PRELOAD): a read or write past a block, or
# into a freed one, by any library (LibTorch, oneDNN, OpenBLAS, OpenCV and its
# codecs, none of them instrumented by the sanitizer build) kills the run.
# First the canary shows that the guard is in place on this machine.
#
# usage: run_guard_test.sh STYLIZE GUARD_LIB CANARY MAKE_CLIP FIXTURES_DIR STYLIZE_TESTS
set -uo pipefail
stylize=$1 guard_lib=$2 canary=$3 make_clip=$4 fixtures=$5 unit_tests=$6
work=$(mktemp -d "${TMPDIR:-/tmp}/stylize-guard-XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# Debian 12's oneDNN 2.6 reads one entry past a table while it builds each
# AMX bf16 convolution (src/sanitizer_options.cpp); on a CPU with AMX that
# would end every run here, so oneDNN runs its AVX512-BF16 kernels (no cap
# elsewhere). Nothing else is exempt.
guarded() {
  env ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 LD_PRELOAD="$guard_lib" STYLIZE_GUARD_PAGES=1 "$@"
}

for mode in overrun use-after-free; do
  "$canary" "$mode" >/dev/null || fail "the canary's $mode faults without the guard (exit $?)"
  guarded "$canary" "$mode" >/dev/null 2>&1
  status=$?
  # 139: killed by SIGSEGV (128 + 11).
  [[ $status == 139 ]] || fail "the guard did not stop the canary's $mode (exit $status, expected 139: SIGSEGV)"
done
if ((failures > 0)); then
  echo "the guard does not work on this machine: nothing below would be checked" >&2
  exit 1
fi

# One run per path; each must finish and write its output (none: "").
run() {
  local name=$1 output=$2
  shift 2
  local started=$SECONDS
  guarded "$@" >"$work/$name.log" 2>&1
  local status=$?
  if [[ $status != 0 ]]; then
    fail "$name (exit $status; 139 is a fault: an access past or after a heap block):"
    tail -n 20 "$work/$name.log" >&2
  elif [[ -n $output && ! -s $output ]]; then
    fail "$name wrote no $output"
  else
    echo "ok: $name ($((SECONDS - started)) s)"
  fi
}

common=(--weights "$fixtures/vgg19_tiny.safetensors" --threads 2 -n 3)
content=$fixtures/golden_content.png style=$fixtures/golden_style.png
run bf16 "$work/bf16.png" "$stylize" -c "$content" -s "$style" -o "$work/bf16.png" --size 48 --precision bf16 \
  "${common[@]}"
run fp32 "$work/fp32.jpg" "$stylize" -c "$content" -s "$style" -o "$work/fp32.jpg" --size 48 --precision fp32 \
  --optimizer lbfgs "${common[@]}"
run tiles "$work/tiles.png" "$stylize" -c "$content" -s "$style" -o "$work/tiles.png" --size 64 --tile 32 \
  "${common[@]}"
run scales "$work/scales.png" "$stylize" -c "$content" -s "$style" -o "$work/scales.png" --size 48 --scales 2 \
  "${common[@]}"
mkdir -p "$work/photos"
cp "$content" "$work/photos/a.png"
cp "$fixtures/batch_seed.ppm" "$work/photos/b.ppm"
run batch "$work/out/b_golden_style.png" "$stylize" batch --content "$work/photos" --style "$style" \
  --output-template "$work/out/{content}_{style}.png" --size 32 "${common[@]}"
if guarded "$make_clip" --frames 3 --width 48 --height 32 -o "$work/clip.mp4" >"$work/clip.log" 2>&1; then
  run video "$work/styled.mp4" "$stylize" video -c "$work/clip.mp4" -s "$style" -o "$work/styled.mp4" --size 32 \
    --frame-iterations 3 "${common[@]}"
else
  fail "make_clip (exit $?):"
  tail -n 20 "$work/clip.log" >&2
fi

# What reads files: the image, colour-profile, flow and video codecs, the
# weights readers and the converter, and the fuzzers' saved inputs.
readers='FuzzRegressions.*:ImageIo.*:IccContainer.*:Color.*:ColorIo.*:Resize.*:Safetensors.*:VggWeights.*'
readers+=':WeightsFileTest.*:KerasHdf5.*:WeightFormats.*:Converter.*:Flow.*:Warp.*:Containers/*:FrameFiles.*'
readers+=':Digest.*:MomentsFile.*'
run readers "" "$unit_tests" --gtest_filter="$readers"

((failures == 0)) || exit 1

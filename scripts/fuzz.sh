#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang, ASan and UBSan (into
# build-fuzz/) and runs each one for a bounded time. Inputs that crash, leak,
# hang or exhaust memory are saved in build-fuzz/findings/TARGET/; once the bug
# is fixed, copy them to tests/fuzz_regressions/TARGET/ so every test run
# replays them (fuzz/README.md).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   # default: 60 s, every target
#   scripts/fuzz.sh 600 fuzz_image
#
# Environment: FUZZ_RSS_LIMIT_MB (2048; also the largest single allocation
# allowed), FUZZ_TIMEOUT_S (10: an input taking longer is a hang), FUZZ_MAX_LEN
# (libFuzzer's default: the largest seed, at least 4096 bytes), FUZZ_BUILD_DIR
# (build-fuzz), CMAKE_BUILD_PARALLEL_LEVEL (build jobs).
#
# The corpus each run grows is kept in build-fuzz/corpus/TARGET/ and reused by
# the next run. Exit status: 0 when nothing was found, 1 when a target left
# findings, 2 on usage or build errors.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
all_targets=(fuzz_safetensors fuzz_image fuzz_keras_h5)

seconds="${1:-60}"
[ $# -gt 0 ] && shift
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]  (targets: ${all_targets[*]})" >&2
  exit 2
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for target in "${targets[@]}"; do
  if [ ! -f "$root/fuzz/$target.cpp" ]; then
    echo "fuzz: unknown target '$target' (targets: ${all_targets[*]})" >&2
    exit 2
  fi
done

# clang and its libFuzzer runtime (Debian: clang, libclang-rt-dev), on top of
# what scripts/setup.sh installs.
missing=()
for package in clang libclang-rt-dev; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -f "$build_dir/build.ninja" ]; then  # also after a configure that failed
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
    -DSTYLIZE_FUZZ=ON -DSTYLIZE_BUILD_TESTS=OFF
fi
cmake --build "$build_dir" --target "${targets[@]}" make_image_seeds || exit 2

# Seeds, made afresh each run: the small fixtures, images written by OpenCV at
# run time, and every committed regression input.
make_seeds() {
  local target="$1" dir="$2"
  rm -rf "$dir"
  mkdir -p "$dir"
  case "$target" in
    fuzz_safetensors) cp "$root"/tests/fixtures/*.safetensors "$dir"/ ;;
    fuzz_image) "$build_dir/fuzz/make_image_seeds" "$dir" >/dev/null ;;
    fuzz_keras_h5) cp "$root"/tests/fixtures/*.h5 "$dir"/ ;;
  esac
  if [ -d "$root/tests/fuzz_regressions/$target" ]; then
    find "$root/tests/fuzz_regressions/$target" -maxdepth 1 -type f ! -name '*.md' -exec cp {} "$dir"/ \;
  fi
}

status=0
summary=()
for target in "${targets[@]}"; do
  corpus="$build_dir/corpus/$target"
  seeds="$build_dir/seeds/$target"
  findings="$build_dir/findings/$target"
  log="$build_dir/logs/$target.log"
  temp="$build_dir/tmp/$target"
  mkdir -p "$corpus" "$findings" "$(dirname "$log")"
  rm -rf "$temp"
  mkdir -p "$temp"
  make_seeds "$target" "$seeds"
  flags=(
    -max_total_time="$seconds"
    -rss_limit_mb="${FUZZ_RSS_LIMIT_MB:-2048}"
    -timeout="${FUZZ_TIMEOUT_S:-10}"
    -artifact_prefix="$findings/"
    -print_final_stats=1
    # Keep going after a finding (in a fresh child process) to find more in one run.
    -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1
  )
  [ -n "${FUZZ_MAX_LEN:-}" ] && flags+=(-max_len="$FUZZ_MAX_LEN")
  dict="$root/fuzz/${target#fuzz_}.dict"
  [ -f "$dict" ] && flags+=(-dict="$dict")
  before=$(find "$findings" -type f | wc -l)
  echo "fuzz: $target for ${seconds} s (log: $log)"
  # OpenCV writes some formats to a temporary file before decoding them; point
  # those at an empty directory that fuzz_image checks after every input.
  (cd "$build_dir" && OPENCV_TEMP_PATH="$temp" "$build_dir/fuzz/$target" "${flags[@]}" "$corpus" "$seeds") \
    >"$log" 2>&1 || true
  after=$(find "$findings" -type f | wc -l)
  runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)  # -fork's progress lines
  new=$((after - before))
  summary+=("$target: ${seconds} s, ${runs:-?} inputs run, corpus $(find "$corpus" -type f | wc -l) files, $new new finding(s)")
  if [ "$new" -gt 0 ]; then
    status=1
    echo "fuzz: $target: $new new finding(s) in $findings:" >&2
    find "$findings" -type f -newer "$seeds" -printf '  %p (%s bytes)\n' >&2
  fi
done

echo "fuzz: summary"
printf '  %s\n' "${summary[@]}"
exit "$status"

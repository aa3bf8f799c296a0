#!/usr/bin/env bash
# CTest: scripts/batch_stylize.sh makes one output per (content, style), skips
# the finished ones and redoes one whose checkpoint record says it is unfinished.
set -euo pipefail
stylize="$1" root="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/contents" "$work/styles"
seed="$root/tests/fixtures/batch_seed.ppm"
cp "$seed" "$work/contents/a.ppm"
cp "$seed" "$work/contents/b.ppm"
cp "$seed" "$work/styles/s1.ppm"
cp "$seed" "$work/styles/s2.ppm"
run() {
  STYLIZE="$stylize" "$root/scripts/batch_stylize.sh" "$work/contents" "$work/styles" "$work/out" \
    --weights "$root/tests/fixtures/vgg19_tiny.safetensors" --size 32 -n 2 --threads 1 2>&1
}
first="$(run)"
[ "$(ls "$work/out" | wc -l)" -eq 4 ] || { echo "expected 4 outputs, got: $(ls "$work/out")"; exit 1; }
for f in a_s1 a_s2 b_s1 b_s2; do [ -s "$work/out/$f.png" ] || { echo "missing $f.png"; exit 1; }; done
echo "$first" | grep -q "4 job(s) made, 0 already done" || { echo "unexpected: $first"; exit 1; }
rm "$work/out/b_s2.png"
second="$(run)"
echo "$second" | grep -q "1 job(s) made, 3 already done" || { echo "unexpected: $second"; exit 1; }
# An image with a checkpoint record beside it was interrupted: resumed, not skipped.
echo '{"iteration": 1}' >"$work/out/a_s1.png.json"
third="$(run)"
echo "$third" | grep -q "resuming $work/out/a_s1.png from iteration 1" || { echo "unexpected: $third"; exit 1; }
echo "$third" | grep -q "1 job(s) made, 3 already done" || { echo "unexpected: $third"; exit 1; }
[ ! -e "$work/out/a_s1.png.json" ] || { echo "the record of a finished image was left"; exit 1; }
echo "batch_stylize.sh: ok"

#!/usr/bin/env bash
# Stylizes every image of a folder of contents with every image of a folder of
# styles into OUT_DIR/<content>_<style>.png: a thin wrapper around
# `stylize batch` (README, "On a cluster"). Outputs that are done are skipped
# and interrupted ones resumed (their checkpoint record says so), so a stopped
# batch continues where it stopped; several copies of this script can run on
# the same folders at once. Extra arguments go to stylize batch.
#
#   scripts/batch_stylize.sh photos/ paintings/ results/ --size 768 -n 500
set -euo pipefail

if [ $# -lt 3 ]; then
  echo "usage: $0 CONTENT_DIR STYLE_DIR OUT_DIR [stylize batch options...]" >&2
  exit 2
fi
content_dir="$1" style_dir="$2" out_dir="$3"
shift 3
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stylize="${STYLIZE:-$root/build/stylize}"
[ -x "$stylize" ] || "$root/scripts/setup.sh" >&2
exec "$stylize" batch --content "$content_dir" --style "$style_dir" --output-template "$out_dir/{content}_{style}.png" "$@"

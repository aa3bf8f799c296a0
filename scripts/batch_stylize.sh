#!/usr/bin/env bash
# Stylizes every image of a folder of contents with every image of a folder of
# styles: OUT_DIR/<content>_<style>.png. Outputs that already exist are skipped,
# so an interrupted batch continues where it stopped. Each content image is one
# stylize process (--each-style), which builds the network and the content
# targets once for all its styles. Extra arguments go to stylize.
#
#   scripts/batch_stylize.sh photos/ paintings/ results/ --size 768 -n 500
set -euo pipefail

if [ $# -lt 3 ]; then
  echo "usage: $0 CONTENT_DIR STYLE_DIR OUT_DIR [stylize options...]" >&2
  exit 2
fi
content_dir="$1" style_dir="$2" out_dir="$3"
shift 3
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stylize="${STYLIZE:-$root/build/stylize}"
[ -x "$stylize" ] || "$root/scripts/setup.sh" >&2
mkdir -p "$out_dir"

images() {
  find "$1" -maxdepth 1 -type f \( -iname '*.png' -o -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.webp' \
    -o -iname '*.tif' -o -iname '*.tiff' -o -iname '*.bmp' -o -iname '*.ppm' \) | sort
}

mapfile -t contents < <(images "$content_dir")
mapfile -t styles < <(images "$style_dir")
[ ${#contents[@]} -gt 0 ] || { echo "no images in $content_dir" >&2; exit 2; }
[ ${#styles[@]} -gt 0 ] || { echo "no images in $style_dir" >&2; exit 2; }

status=0 done=0 skipped=0
for content in "${contents[@]}"; do
  stem="$(basename "${content%.*}")"
  todo=()
  for style in "${styles[@]}"; do
    if [ -e "$out_dir/${stem}_$(basename "${style%.*}").png" ]; then
      skipped=$((skipped + 1))
    else
      todo+=(--style "$style")
    fi
  done
  [ ${#todo[@]} -gt 0 ] || continue
  echo "== $content: $(( ${#todo[@]} / 2 )) style(s)"
  if "$stylize" --content "$content" "${todo[@]}" --each-style \
      --output-template "$out_dir/{content}_{style}.png" "$@"; then
    done=$((done + ${#todo[@]} / 2))
  else
    code=$?
    echo "stylize failed on $content (exit $code)" >&2
    status=$code
    [ $code -ge 128 ] && exit $code  # interrupted: stop the batch
  fi
done
echo "batch: $done new, $skipped already present"
exit $status

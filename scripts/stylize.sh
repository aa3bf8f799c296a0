#!/usr/bin/env bash
# Sets up and builds stylize if needed (scripts/setup.sh), then runs it with the given arguments.
#   scripts/stylize.sh --content photo.jpg --style painting.jpg -o out.png
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-$root/build}"
"$root/scripts/setup.sh" >&2
exec "$build_dir/stylize" "$@"

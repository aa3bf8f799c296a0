#!/usr/bin/env bash
# Sets up and builds stylize (scripts/setup.sh), then runs the whole test suite through CTest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-$root/build}"
"$root/scripts/setup.sh"
cd "$build_dir"
ctest --output-on-failure -j "$(nproc)"

#!/usr/bin/env bash
# Sets up and builds stylize (scripts/setup.sh), then runs the whole test suite through CTest.
#
#   scripts/test.sh              # Release build in build/
#   scripts/test.sh --sanitize   # the same suite built with AddressSanitizer and
#                                # UndefinedBehaviorSanitizer (STYLIZE_SANITIZE=ON) in build-asan/
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "${1:-}" in
  "")
    build_dir="${BUILD_DIR:-$root/build}"
    "$root/scripts/setup.sh"
    ;;
  --sanitize)
    # The sanitizer settings are compiled into the test executables
    # (src/sanitizer_options.cpp), so CTest, test discovery and the stylize
    # binary the CLI tests start all run with them.
    build_dir="${BUILD_DIR:-$root/build-asan}"
    BUILD_DIR="$build_dir" CMAKE_ARGS="-DSTYLIZE_SANITIZE=ON" "$root/scripts/setup.sh"
    ;;
  *)
    echo "usage: scripts/test.sh [--sanitize]" >&2
    exit 2
    ;;
esac
cd "$build_dir"
# setup.sh installed everything the tests use: a test that would skip for a
# missing capability (a video codec, ...) fails instead.
export STYLIZE_TESTS_REQUIRE_ALL="${STYLIZE_TESTS_REQUIRE_ALL:-1}"
ctest --output-on-failure -j "$(nproc)"

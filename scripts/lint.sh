#!/usr/bin/env bash
# Checks that every tracked C++ file is formatted as .clang-format says
# (Debian 12's clang-format 14), installing clang-format first if it is missing.
#
#   scripts/lint.sh          # check; exit 1 and list the differences if a file is not formatted
#   scripts/lint.sh --fix    # format the files in place
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if ! command -v clang-format >/dev/null; then
  echo "lint: installing clang-format"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends clang-format
fi
mapfile -t files < <(git ls-files '*.c' '*.cpp' '*.hpp' '*.h')
case "${1:-}" in
  --fix) clang-format -i "${files[@]}" ;;
  "")
    clang-format --dry-run --Werror "${files[@]}"
    echo "lint: ${#files[@]} files formatted as .clang-format says"
    ;;
  *)
    echo "usage: scripts/lint.sh [--fix]" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Compiles every translation unit of the build (sources, tests, tools) against a
# newer LibTorch's headers than Debian 12's 1.13: those of Debian 13 (trixie),
# LibTorch 2.6. The official CUDA LibTorch that README's CUDA build uses is a
# 2.x; this catches, on a machine without CUDA, any use of an API that 2.x
# changed or removed, and lists any deprecation warning at stylize's call sites.
# Compile only (-fsyntax-only): trixie's libraries need a newer glibc than
# Debian 12's, so nothing is linked or run. Where CUDA's headers are installed
# (CUDA_HOME, default /usr/local/cuda), the translation units with CUDA-only
# lines (under STYLIZE_WITH_CUDA) are compiled once more with it defined,
# against LibTorch 2.6's CUDA headers and CUDA's: trixie's package is built
# without CUDA and lacks one generated header of two lines
# (c10/cuda/impl/cuda_cmake_macros.h), which is written for the check.
#
#   scripts/check_libtorch.sh            # about 10 minutes on 2 cores
#
# Downloads two Debian packages (libtorch-dev, libtorch2.6; 60 MB) from
# deb.debian.org into build/libtorch-trixie/, with apt's own signature checks,
# without installing them.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
work="$build/libtorch-trixie"
suite=trixie
packages=(libtorch-dev libtorch2.6)

if [ ! -f "$build/compile_commands.json" ]; then
  echo "check_libtorch: $build/compile_commands.json is missing; run scripts/setup.sh first" >&2
  exit 1
fi

if [ ! -d "$work/root/usr/include/torch" ]; then
  echo "check_libtorch: downloading ${packages[*]} from Debian $suite" >&2
  # shellcheck source=scripts/private_apt.sh
  source "$root/scripts/private_apt.sh"
  private_apt "$work" "deb http://deb.debian.org/debian $suite main"
  mkdir -p "$work/debs"
  (cd "$work/debs" && apt-get "${apt_options[@]}" -qq download "${packages[@]}")
  rm -rf "$work/root.partial"
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/root.partial"; done
  mv "$work/root.partial" "$work/root"
fi

cuda_include="${CUDA_HOME:-/usr/local/cuda}/include"
if [ -f "$cuda_include/cuda_runtime_api.h" ]; then
  mkdir -p "$work/cuda-stub/c10/cuda/impl"
  printf '#pragma once\n#define C10_CUDA_BUILD_SHARED_LIBS\n' >"$work/cuda-stub/c10/cuda/impl/cuda_cmake_macros.h"
else
  cuda_include=""
fi

exec /usr/bin/python3 - "$build/compile_commands.json" "$work/root/usr/include" "$(nproc)" "$cuda_include" \
  "$work/cuda-stub" <<'EOF'
import json, re, shlex, subprocess, sys
from concurrent.futures import ThreadPoolExecutor

commands, include, jobs, cuda_include, cuda_stub = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
with open(f"{include}/torch/csrc/api/include/torch/version.h") as f:
    version = ".".join(re.findall(r"#define TORCH_VERSION_(?:MAJOR|MINOR|PATCH) (\d+)", f.read()))


def check(entry, cuda=False):
    args = shlex.split(entry["command"])
    kept, skip = [], False
    for arg in args[1:]:
        if skip:
            skip = False
        elif arg == "-o":
            skip = True
        elif arg not in ("-c", "-O1", "-O2", "-O3"):
            kept.append(arg)
    # The newer headers come first; Debian 12's own stay behind them for everything else.
    command = [args[0], "-isystem", include, "-isystem", f"{include}/torch/csrc/api/include",
               "-fsyntax-only", "-O0"] + kept
    if cuda:
        command[1:1] = ["-DSTYLIZE_WITH_CUDA", "-isystem", cuda_stub, "-isystem", cuda_include]
    result = subprocess.run(command, cwd=entry["directory"], capture_output=True, text=True)
    return ("[cuda] " if cuda else "") + entry["file"], result.returncode, result.stderr


entries = json.load(open(commands))
with_cuda = [entry for entry in entries if "STYLIZE_WITH_CUDA" in open(entry["file"], errors="replace").read()]
runs = [(entry, False) for entry in entries] + [(entry, True) for entry in with_cuda if cuda_include]
failed = warned = 0
with ThreadPoolExecutor(jobs) as pool:
    for path, code, errors in pool.map(lambda run: check(*run), runs):
        failed += code != 0
        warned += code == 0 and bool(errors.strip())
        if code != 0 or errors.strip():
            print(f"{'FAILED' if code else 'warned'}: {path}\n{errors}", flush=True)
print(f"check_libtorch: {len(runs) - failed} of {len(runs)} translation units compile against "
      f"LibTorch {version}'s headers ({warned} with warnings)")
if not with_cuda:
    print("check_libtorch: no translation unit has CUDA-only lines")
elif cuda_include:
    print(f"check_libtorch: {len(with_cuda)} of them ([cuda]) once more with STYLIZE_WITH_CUDA, "
          f"with CUDA's headers from {cuda_include}")
else:
    print(f"check_libtorch: CUDA's headers not found (CUDA_HOME): the CUDA-only lines of {len(with_cuda)} "
          "translation units were not compiled")
sys.exit(1 if failed else 0)
EOF

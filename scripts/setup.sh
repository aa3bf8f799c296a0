#!/usr/bin/env bash
# Installs what stylize needs on Debian 12 (only the packages that are missing),
# then configures and builds it in Release mode. Safe to run again: it only does
# what is not done yet.
#
#   scripts/setup.sh            # build into build/
#   BUILD_DIR=out scripts/setup.sh
#   CMAKE_PREFIX_PATH=/opt/libtorch scripts/setup.sh   # an official (CUDA) LibTorch
#   BUILD_DIR=build-asan CMAKE_ARGS="-DSTYLIZE_SANITIZE=ON" scripts/setup.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-$root/build}"

packages=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev libopencv-dev libcli11-dev libspdlog-dev nlohmann-json3-dev libgtest-dev
  # libopencv-dev depends on libopencv-video-dev (DIS optical flow) and libopencv-videoio-dev, whose FFmpeg
  # (libavcodec59) depends on libx264, libx265, libvpx and libaom: stylize video reads and writes video files.
  libopenblas0-pthread  # Debian's default reference BLAS makes torch::mm about 10x slower
  libhdf5-dev libcurl4-openssl-dev libssl-dev  # Keras .h5 weights; first-run download of the weights and its checksums
  libdnnl-dev  # oneDNN: bf16 x bf16 -> fp32 Gram matrices on the CPU (AMX), 5-10x faster than fp32 matmuls
  liblcms2-dev zlib1g-dev  # ICC colour profiles: Little CMS converts colours; zlib for PNG's iCCP chunk
  libpng-dev libjpeg-dev libtiff-dev libwebp-dev  # the tests check stylize's profile handling against the codecs' own libraries
  python3 python3-numpy python3-torch python3-h5py python3-scipy  # scripts/convert_weights.py and its tests
  slurm-wlm munge  # tests/slurm: the Slurm array test starts a single-node Slurm (its own munged, slurmctld, slurmd)
)
# tests/kubernetes parses the Kubernetes manifest with kubectl (client side, no
# cluster): Debian's kubernetes-client, unless a kubectl is installed already
# (another package's kubectl, such as Google Cloud SDK's, conflicts with it).
command -v kubectl >/dev/null || packages+=(kubernetes-client)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# OpenBLAS registers itself as the system BLAS with a higher priority than the
# reference one; make sure nothing pinned the slow one.
if update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | grep -q "^Value: .*/blas/libblas.so.3"; then
  echo "setup: warning: the reference BLAS is selected; run: sudo update-alternatives --auto libblas.so.3-x86_64-linux-gnu" >&2
fi

# Extra configure options, e.g. CMAKE_ARGS="-DSTYLIZE_SANITIZE=ON" (scripts/test.sh --sanitize).
read -r -a cmake_args <<< "${CMAKE_ARGS:-}"
# A configure that failed leaves CMakeCache.txt but no build.ninja: configure again then.
if [ ! -f "$build_dir/build.ninja" ] || [ ${#cmake_args[@]} -gt 0 ]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${cmake_args[@]}"
fi
cmake --build "$build_dir"

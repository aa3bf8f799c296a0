#!/usr/bin/env bash
# Packs, into .gpukit/ (ignored by git), what building and running stylize on a
# lent GPU machine needs besides a compiler, CMake, CUDA and its LibTorch, which
# that machine has (README, "On a GPU"): there nothing can be installed, so
# stylize's other libraries travel with the working tree, in under 64 MB.
#
#   scripts/gpu_kit.sh      # about 10 minutes on 2 cores (most of it OpenCV)
#
# - OpenCV: Debian 12's own source package (apt-get source, signatures checked),
#   built as static libraries with only the modules stylize uses (core,
#   imgproc, imgcodecs with PNG and JPEG, video, videoio without FFmpeg). Debian's
#   shared OpenCV needs about 280 other libraries (GDAL, FFmpeg, Qt: 500 MB).
# - The other libraries (spdlog, fmt, CLI11, nlohmann-json, HDF5, libcurl,
#   OpenSSL, lcms2, zlib, libpng, libjpeg): Debian's headers, CMake files and
#   shared libraries with every library they load, except glibc's and GCC's,
#   in Debian's layout under .gpukit/prefix, so that their CMake files work
#   from there. pkgconf travels too (FindPkgConfig needs it).
# - A content photo and eight paintings from ../shared/data/images, if present.
#
# scripts/gpu_bench.sh, run there, builds against the kit and measures.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kit="${GPU_KIT_DIR:-$root/.gpukit}"
work="${GPU_KIT_WORK:-$root/build/gpukit-work}"
arch=x86_64-linux-gnu
jobs="$(nproc)"

packages=(libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev libhdf5-dev libcurl4-openssl-dev libssl-dev
          liblcms2-dev zlib1g-dev libpng-dev libjpeg-dev pkgconf dpkg-dev cmake ninja-build g++)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "gpu_kit: installing ${missing[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- OpenCV, static, from Debian's source package --------------------------------
opencv="$work/opencv"
if [ ! -f "$opencv/lib/cmake/opencv4/OpenCVConfig.cmake" ]; then
  # shellcheck source=scripts/private_apt.sh
  source "$root/scripts/private_apt.sh"
  private_apt "$work/apt" "deb-src http://deb.debian.org/debian bookworm main"
  mkdir -p "$work/src"
  (cd "$work/src" && apt-get "${apt_options[@]}" -qq source --download-only opencv)
  source_dir="$(find "$work/src" -maxdepth 1 -type d -name 'opencv-4*' | head -1)"
  if [ -z "$source_dir" ]; then
    tar -C "$work/src" -xf "$(ls "$work"/src/opencv_*.orig.tar.xz)"
    source_dir="$(find "$work/src" -maxdepth 1 -type d -name 'opencv-4*' | head -1)"
  fi
  off=(IPP ITT OPENCL LAPACK EIGEN TIFF WEBP OPENEXR JASPER OPENJPEG GDAL GDCM FFMPEG GSTREAMER V4L 1394 GTK QT VA
       VA_INTEL PROTOBUF QUIRC ADE TBB OPENMP CAROTENE OPENVX VTK AVIF SPNG CUDA IMGCODEC_HDR IMGCODEC_SUNRASTER
       IMGCODEC_PFM)
  off_flags=()
  for f in "${off[@]}"; do off_flags+=("-DWITH_$f=OFF"); done
  cmake -S "$source_dir" -B "$work/opencv-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$opencv" -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DBUILD_LIST=core,imgproc,imgcodecs,video,videoio -DCPU_BASELINE=AVX2 -DCPU_DISPATCH= \
    "${off_flags[@]}" \
    -DWITH_JPEG=ON -DWITH_PNG=ON -DWITH_PTHREADS_PF=ON -DBUILD_ZLIB=OFF -DBUILD_PNG=OFF -DBUILD_JPEG=OFF \
    -DBUILD_TESTS=OFF -DBUILD_PERF_TESTS=OFF -DBUILD_EXAMPLES=OFF -DBUILD_opencv_apps=OFF -DBUILD_JAVA=OFF \
    -DBUILD_opencv_python3=OFF -DBUILD_DOCS=OFF -DOPENCV_GENERATE_PKGCONFIG=OFF >"$work/opencv-configure.log"
  cmake --build "$work/opencv-build" -j "$jobs"
  cmake --install "$work/opencv-build" >/dev/null
fi

# --- The other libraries, in Debian's layout --------------------------------------
rm -rf "$kit.partial"
prefix="$kit.partial/prefix"
mkdir -p "$prefix/lib/$arch" "$prefix/include/$arch" "$prefix/share/cmake" "$prefix/bin"
cp -a "$opencv" "$kit.partial/opencv"
rm -rf "$kit.partial/opencv/share"  # cascade classifiers (10 MB), not used
# The static OpenCV names Debian's libpng, libjpeg and zlib by absolute path;
# there they are the kit's, found through the linker's search path.
sed -i -E "s#/usr/lib/$arch/lib(png|jpeg|z)\.so#\1#g" "$kit.partial"/opencv/lib/cmake/opencv4/*.cmake

for dir in spdlog fmt CLI nlohmann openssl libpng16 hdf5; do cp -a "/usr/include/$dir" "$prefix/include/"; done
cp -a /usr/include/{lcms2.h,lcms2_plugin.h,zlib.h,zconf.h,png.h,pngconf.h,pnglibconf.h,jpeglib.h,jerror.h,jmorecfg.h} \
  "$prefix/include/"
cp -a "/usr/include/$arch"/{openssl,curl,jconfig.h} "$prefix/include/$arch/"
cp -a /usr/lib/$arch/cmake/{spdlog,fmt} "$prefix/lib/$arch/cmake/" 2>/dev/null ||
  { mkdir -p "$prefix/lib/$arch/cmake" && cp -a /usr/lib/$arch/cmake/{spdlog,fmt} "$prefix/lib/$arch/cmake/"; }
cp -a /usr/share/cmake/{CLI11,nlohmann_json} "$prefix/share/cmake/"
mkdir -p "$prefix/lib/$arch/hdf5"
cp -a "/usr/lib/$arch/hdf5/serial" "$prefix/lib/$arch/hdf5/"
mkdir -p "$prefix/lib/$arch/pkgconfig"
sed "s#^prefix=.*#prefix=\${pcfiledir}/../../..#" "/usr/lib/$arch/pkgconfig/lcms2.pc" >"$prefix/lib/$arch/pkgconfig/lcms2.pc"

# Each library with its link-time name (libfoo.so -> libfoo.so.N), then every
# library they load, except the C and C++ runtimes that every machine has.
direct=(spdlog fmt hdf5_serial curl crypto lcms2 z png16 jpeg)
for name in "${direct[@]}"; do
  cp -a "/usr/lib/$arch/lib$name.so" "/usr/lib/$arch/lib$name.so".* "$prefix/lib/$arch/"
done
cp -a "/usr/lib/$arch/libpng.so" "$prefix/lib/$arch/"
base='^(linux-vdso|libc|libm|libstdc\+\+|libgcc_s|ld-linux-x86-64|libpthread|libdl|librt|libresolv)\.so'
for name in "${direct[@]}"; do ldd "/usr/lib/$arch/lib$name.so"; done | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' |
  sort -u | while read -r soname path; do
    [[ "$soname" =~ $base ]] && continue
    [ -e "$prefix/lib/$arch/$soname" ] || cp -L "$path" "$prefix/lib/$arch/$soname"
  done
cp -L /usr/bin/pkgconf "$prefix/bin/pkgconf"
cat >"$prefix/bin/pkg-config" <<'WRAPPER'
#!/bin/sh
# pkgconf with its library, searching the kit's .pc files.
here="$(dirname "$(readlink -f "$0")")"
LD_LIBRARY_PATH="$here/../lib/x86_64-linux-gnu" PKG_CONFIG_LIBDIR="$here/../lib/x86_64-linux-gnu/pkgconfig" \
  exec "$here/pkgconf" "$@"
WRAPPER
chmod +x "$prefix/bin/pkg-config"
cp -L "$(ldd /usr/bin/pkgconf | awk '/libpkgconf/ {print $3}')" "$prefix/lib/$arch/"

# --- Images for the benchmark ----------------------------------------------------
images="$root/../shared/data/images"
mkdir -p "$kit.partial/images"
if [ -d "$images" ]; then
  cp "$images/content/tubingen.jpg" "$kit.partial/images/"
  for style in starry_night great_wave the_scream composition_vii la_grande_jatte sunflowers shipwreck water_lilies; do
    cp "$images/style/$style.jpg" "$kit.partial/images/"
  done
fi

rm -rf "$kit"
mv "$kit.partial" "$kit"
echo "gpu_kit: $(du -sh "$kit" | cut -f1) in $kit" >&2

#!/usr/bin/env bash
# Downloads the ImageNet VGG19 weights stylize uses by default into models/:
# timm's "vgg19.tv_in1k" (the original torchvision VGG19 weights, in safetensors
# form, torchvision key names features.0.weight ... features.34.bias; input
# convention RGB in [0, 1] with ImageNet mean and std). About 575 MB.
#
# The download resumes if interrupted, and the file is only moved into place
# once its SHA-256 matches the digest published with it (Hugging Face's Git LFS
# record of model.safetensors, timm/vgg19.tv_in1k commit 128d470).
#
#   scripts/download_models.sh [DEST]    # default DEST: models/vgg19.safetensors; a folder: DEST/vgg19.safetensors
#
# A mirror: DOWNLOAD_MODELS_URL (and DOWNLOAD_MODELS_SHA256 for a mirror that
# serves another file; the tests serve a small one). An existing DEST that is
# not the file (a conversion saved there, other weights) is never replaced.
set -euo pipefail

url="${DOWNLOAD_MODELS_URL:-https://huggingface.co/timm/vgg19.tv_in1k/resolve/main/model.safetensors}"
sha256="${DOWNLOAD_MODELS_SHA256:-11aea017b543ff59233749d8f1cf544cda749378f5790d2fedab841fb86b7669}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-$root/models/vgg19.safetensors}"
# A folder (existing, or named with a trailing /): the file goes into it.
if [ -d "$dest" ] || [ "${dest%/}" != "$dest" ]; then dest="${dest%/}/vgg19.safetensors"; fi
partial="$dest.partial"
mkdir -p "$(dirname "$dest")"

verify() {
  echo "checking SHA-256 of $1 ..."
  local actual
  actual="$(sha256sum "$1" | cut -d' ' -f1)"
  if [ "$actual" != "$sha256" ]; then
    echo "error: SHA-256 mismatch for $1" >&2
    echo "  expected $sha256" >&2
    echo "  found    $actual" >&2
    return 1
  fi
}

if [ -e "$dest" ]; then
  if [ -f "$dest" ] && verify "$dest"; then
    echo "already present and verified: $dest"
    exit 0
  fi
  # Never a download of this script's (those are verified before they are
  # moved there): the user's own file, a conversion (README, "Weights") or
  # another VGG19. Left alone.
  echo "error: $dest exists and is not the file of $url (a conversion, or other weights?);" >&2
  echo "  it is left as it is: move it away, or give this script another DEST" >&2
  exit 1
fi

echo "downloading $url"
echo "       to $dest"
# curl is not on a minimal Debian: install it the way scripts/setup.sh installs packages.
if ! command -v curl >/dev/null && ! command -v wget >/dev/null; then
  echo "installing curl"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends curl ca-certificates
fi
if command -v curl >/dev/null; then
  # -C - resumes a partial download; --fail turns HTTP errors into an exit code.
  curl --fail --location --retry 3 --continue-at - --output "$partial" "$url" || {
    echo "error: download failed (see above). Check your connection and run this script again: it resumes." >&2
    echo "Or download $url by hand and save it as $dest" >&2
    exit 1
  }
else
  wget --continue --tries=3 --output-document="$partial" "$url" || {
    echo "error: download failed. Run this script again to resume, or save $url as $dest by hand" >&2
    exit 1
  }
fi

if ! verify "$partial"; then
  rm -f "$partial"
  echo "the download was corrupt and has been removed; run this script again" >&2
  exit 1
fi
mv -f "$partial" "$dest"
echo "done: $dest"

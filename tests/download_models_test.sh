#!/usr/bin/env bash
# CTest: scripts/download_models.sh, with a stand-in curl serving a small file
# (DOWNLOAD_MODELS_URL and _SHA256 name it): a folder DEST gets the file
# inside it; a verified file is not fetched again; a DEST that is another file
# (a conversion saved there) is never replaced, nor removed.
set -euo pipefail
root="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/models"
printf 'the weights' >"$work/served"
# curl --fail --location --retry 3 --continue-at - --output FILE URL: FILE gets the served file.
cat >"$work/bin/curl" <<'STUB'
#!/usr/bin/env bash
while [ $# -gt 0 ]; do
  if [ "$1" = "--output" ]; then out="$2"; shift; fi
  shift
done
echo fetched >>"$SERVED.fetches"
cp "$SERVED" "$out"
STUB
chmod +x "$work/bin/curl"
export PATH="$work/bin:$PATH" SERVED="$work/served" DOWNLOAD_MODELS_URL="https://mirror.example/vgg19.safetensors"
DOWNLOAD_MODELS_SHA256="$(sha256sum "$work/served" | cut -d' ' -f1)"
export DOWNLOAD_MODELS_SHA256
fail() { echo "FAIL: $*" >&2; exit 1; }

"$root/scripts/download_models.sh" "$work/models/" || fail "a folder DEST"
cmp -s "$work/served" "$work/models/vgg19.safetensors" || fail "no models/vgg19.safetensors: $(ls -a "$work/models")"
[ ! -e "$work/models/vgg19.safetensors.partial" ] || fail "the partial file is left"
out="$("$root/scripts/download_models.sh" "$work/models" 2>&1)" || fail "a second run: $out"
case "$out" in *"already present and verified"*) ;; *) fail "fetched again: $out" ;; esac
[ "$(wc -l <"$work/served.fetches")" -eq 1 ] || fail "fetched $(wc -l <"$work/served.fetches") times"

printf 'a conversion' >"$work/models/converted.safetensors"
if out="$("$root/scripts/download_models.sh" "$work/models/converted.safetensors" 2>&1)"; then
  fail "replaced another file: $out"
fi
case "$out" in *"is left as it is"*) ;; *) fail "no reason given: $out" ;; esac
[ "$(cat "$work/models/converted.safetensors")" = "a conversion" ] || fail "the conversion was changed"
echo "download_models.sh: folder DEST, verified file kept, another file never replaced"

# shellcheck shell=bash
# Sourced by the scripts that fetch Debian packages without installing them
# (check_libtorch.sh: another release's binary packages; gpu_kit.sh: a source
# package): apt with its own sources list, package lists and cache under DIR,
# signatures checked against Debian's keyring, the machine's apt untouched.
#
#   private_apt DIR "deb http://deb.debian.org/debian trixie main"
#   apt-get "${apt_options[@]}" download PACKAGE...
#
# Writes DIR/sources.list (with signed-by added), sets the array apt_options
# and runs apt-get update with it.
private_apt() {
  local dir="$1" kind="${2%% *}" rest="${2#* }"
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
  echo "$kind [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $rest" >"$dir/sources.list"
  apt_options=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o APT::Sandbox::User=root)
  apt-get "${apt_options[@]}" -qq update
}

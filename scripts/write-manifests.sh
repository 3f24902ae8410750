#!/usr/bin/env bash
# Writes the sidecar manifest (<lib>.manifest.json: name, version, ABI version, methods, SHA-256)
# of every plugin of a directory, unsigned, with `carbonhub plugin manifest`:
#   scripts/write-manifests.sh DIR [FILE...]
# FILE defaults to every *.so of DIR; files that do not export carbon_plugin_entry (a
# dependency's libGRDB-dynamic.so) are told apart from the ELF file and skipped, never loaded.
# Run it after every build of the plugins: the host refuses a plugin whose bytes differ from its
# manifest. Uses $CARBONHUB, else DIR/carbonhub, else the Swift build's carbonhub.
# Signed when asked: CARBONHUB_SIGN_KEY=NAME.key (from `carbonhub plugin keygen NAME`) makes every
# manifest name the publisher NAME and signs it (<lib>.manifest.sig), so that a deployment with
# `require_signature = true` and NAME in [trust.publishers] loads the build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:?usage: write-manifests.sh DIR [FILE...]}
shift
carbonhub=${CARBONHUB:-}
if [[ -z "$carbonhub" ]]; then
  if [[ -x "$dir/carbonhub" ]]; then carbonhub="$dir/carbonhub"
  else carbonhub="$(cd "$root" && swift build --show-bin-path)/carbonhub"; fi
fi
if [[ ! -x "$carbonhub" ]]; then
  echo "write-manifests.sh: $carbonhub is missing: build it first (swift build --product carbonhub)" >&2
  exit 1
fi
files=()
if [[ $# -gt 0 ]]; then
  for file in "$@"; do files+=("$dir/$file"); done
else
  shopt -s nullglob
  files=("$dir"/*.so)
fi
[[ ${#files[@]} -gt 0 ]] || { echo "write-manifests.sh: no *.so in $dir" >&2; exit 0; }
key=${CARBONHUB_SIGN_KEY:-}
if [[ -z "$key" ]]; then
  "$carbonhub" plugin manifest --only-plugins "${files[@]}"
  exit 0
fi
[[ -r "$key" ]] || { echo "write-manifests.sh: cannot read the signing key $key" >&2; exit 1; }
publisher=$(basename "$key" .key)
"$carbonhub" plugin manifest --only-plugins --publisher "$publisher" "${files[@]}"
for file in "${files[@]}"; do
  # Only the files that got a manifest are plugins (dependencies were skipped).
  if [[ -f "$file.manifest.json" ]]; then
    "$carbonhub" plugin sign --key "$key" "$file"
  fi
done

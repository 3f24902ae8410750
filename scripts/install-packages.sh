#!/usr/bin/env bash
# Installs the Debian packages of scripts/debian-packages.txt that this machine lacks, before any
# long build starts. Usage: scripts/install-packages.sh [serve|all]
#   serve  only what building and serving needs (the first part of the list)
#   all    everything, for the tests (default)
# Uses apt-get as root, sudo otherwise; says clearly what to install when neither works.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scope=${1:-all}

packages=()
while IFS= read -r line; do
  [[ "$line" == "# Checking generated code"* && "$scope" == serve ]] && break
  name=${line%%#*}
  name=$(echo "$name" | xargs)
  [[ -n "$name" ]] && packages+=("$name")
done < "$root/scripts/debian-packages.txt"

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "installing missing Debian packages: ${missing[*]}" >&2
if [[ $(id -u) -eq 0 ]]; then
  run=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  run=(sudo)
else
  echo "error: these Debian packages are missing and I cannot install them (not root, no sudo):" >&2
  echo "  apt-get install ${missing[*]}" >&2
  exit 1
fi
"${run[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${run[@]}" apt-get install -y -qq "${missing[@]}" >&2

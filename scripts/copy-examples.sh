#!/usr/bin/env bash
# Copies each repository plugin's examples beside its library, as the host looks for them:
#   scripts/copy-examples.sh DIR [PLUGINS_TSV]
# For every plugin of scripts/plugins.sh (or of PLUGINS_TSV, its saved output), EXAMPLES_DIR is
# copied to DIR/LIBRARY.examples/ (libESCA.so.examples/). The host offers a module's examples in
# its OpenAPI description and its web console (docs/http-json.md); a deployment gives its own
# plugins theirs the same way, a directory beside the library.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:?usage: copy-examples.sh DIR [PLUGINS_TSV]}
list=${2:-}
if [[ -n "$list" ]]; then plugins=$(cat "$list"); else plugins=$("$root/scripts/plugins.sh"); fi
while IFS=$'\t' read -r _ library examples; do
  [[ -n "$library" && -d "$root/$examples" ]] || continue
  rm -rf "$dir/$library.examples"
  cp -R "$root/$examples" "$dir/$library.examples"
done <<< "$plugins"

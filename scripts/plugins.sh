#!/usr/bin/env bash
# Lists the plugins of the repository, one per line: PRODUCT LIBRARY EXAMPLES_DIR (tab-separated).
#   scripts/plugins.sh            # every plugin
#   scripts/plugins.sh --swift    # the Swift ones only (what `swift build --product` builds)
# The Swift plugins are the dynamic-library products of Package.swift (its description from
# `swift package describe`), their examples next to their Entry folder; the C plugin is the one
# scripts/build-c-plugins.sh builds. The soak, the fuzz campaign and the tests read this list
# rather than keeping their own.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
swift package describe --type json 2>/dev/null | python3 -c '
import json, os, sys
package = json.load(sys.stdin)
paths = {target["name"]: target["path"] for target in package["targets"]}
for product in package["products"]:
    if product["type"].get("library") == ["dynamic"]:
        target = product["targets"][0]
        print("%s\tlib%s.so\t%s" % (product["name"], product["name"], os.path.join(os.path.dirname(paths[target]), "examples")))
'
if [[ "${1:-}" != "--swift" ]]; then
  printf 'gwp\tlibgwp.so\tPlugins/examples/gwp-c/examples\n'
fi

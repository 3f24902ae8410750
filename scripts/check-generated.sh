#!/usr/bin/env bash
# Fails when the committed generated code (Swift protobuf/gRPC, protobuf-c, descriptor sets)
# differs from what scripts/generate-protos.sh produces from protocols/ now.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/generate-protos.sh
generated=(sdk/carbonhub-sdk/Sources/CarbonDomain/Generated Sources/CarbonHostProtocol/Generated Tests/CarbonHostTests/Generated
  Benchmarks/CarbonBench/Generated
  Plugins/examples/gwp-c/generated)
while IFS= read -r list; do generated+=("$(dirname "$list")/Generated"); done < <(find Plugins -name protos.list)
changes=$(git status --porcelain -- "${generated[@]}")
if [[ -n "$changes" ]]; then
  echo "generated code is not current; run scripts/generate-protos.sh and commit:" >&2
  echo "$changes" >&2
  exit 1
fi
echo "generated code is current" >&2

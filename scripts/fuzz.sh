#!/usr/bin/env bash
# A fuzz campaign through the plugin ABI: `carbonhub verify --fuzz N` on every plugin of the
# repository, each in its own process (a crash ends only that one), mutating each method's
# sample requests as JSON and as protobuf. Inputs that get an undocumented status, take over
# 1 s, hang or crash are kept in the regression corpus, replayed by FuzzCorpusTests:
#   scripts/fuzz.sh [N per method, default 2000] [BIN dir, default the release build] [SEED]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
n=${1:-2000}
bin=${2:-$(swift build -c release --show-bin-path)}
seed=${3:-24301}
corpus="$root/Tests/Fixtures/fuzz-corpus"
status=0
for pair in ExampleUnits:Plugins/examples/units-swift/examples gwp:Plugins/examples/gwp-c/examples \
  ESCA:Plugins/ESCA/examples SOBAC:Plugins/SOBAC/examples ALDO:Plugins/ALDO/examples \
  SNBC:Plugins/SNBC/examples COPVivier:Plugins/COPVivier/examples; do
  lib="$bin/lib${pair%%:*}.so"
  started=$(date +%s)
  if ! "$bin/carbonhub" verify "$lib" --samples "${pair#*:}" --fuzz "$n" --fuzz-seed "$seed" --fuzz-save "$corpus" \
    --leak-calls 200 --concurrent-calls 5; then
    status=1
  fi
  echo "fuzz: ${pair%%:*}: $n inputs per method in $(( $(date +%s) - started )) s" >&2
done
exit $status

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
# Every plugin of the repository (scripts/plugins.sh), with its examples as seeds.
while IFS=$'\t' read -r product library examples; do
  started=$(date +%s)
  if ! "$bin/carbonhub" verify "$bin/$library" --samples "$examples" --fuzz "$n" --fuzz-seed "$seed" --fuzz-save "$corpus" \
    --leak-calls 200 --concurrent-calls 5 </dev/null; then
    status=1
  fi
  echo "fuzz: $product: $n inputs per method in $(( $(date +%s) - started )) s" >&2
done < <(scripts/plugins.sh)
exit $status

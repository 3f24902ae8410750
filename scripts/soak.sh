#!/usr/bin/env bash
# The long load test (soak): every plugin of a release build served by `carbonhub serve`, each
# module's main method driven over TLS gRPC by `carbonhub load` for SOAK_SECONDS (default 600),
# then the calls/s, p50/p99, errors by status and the server's RSS drift. Exits non-zero on
# any error or a drift above SOAK_MAX_DRIFT percent (default 10).
#   scripts/soak.sh                       # builds release first
#   SOAK_SECONDS=60 SOAK_BUILD=0 scripts/soak.sh   # shorter, with an existing release build
#   SOAK_HOSTILE=1 scripts/soak.sh        # and a hostile client beside the load (issue 25):
#     idle connections that never start TLS, streams whose client stops reading, oversized
#     requests (scripts/hostile-client.py); the load must still see no error and a flat RSS
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${SOAK_SECONDS:-600}
concurrency=${SOAK_CONCURRENCY:-16}
if [[ "${SOAK_BUILD:-1}" == 1 ]]; then
  swift build -c release --product carbonhub
  for product in $(scripts/plugins.sh --swift | cut -f1); do swift build -c release --product "$product"; done
fi
bin=$(swift build -c release --show-bin-path)
scripts/build-c-plugins.sh "$bin"
# Manifests of the plugins (unsigned): the default deployment requires one of every plugin it
# does not pin.
CARBONHUB="$bin/carbonhub" scripts/write-manifests.sh "$bin" >/dev/null

state=$(mktemp -d /tmp/carbonhub-soak.XXXXXX)
log="$state/serve.log"
"$bin/carbonhub" serve --listen 127.0.0.1:0 --plugins "$bin" --state-dir "$state" --log-level error 2>"$log" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
address=""
for _ in $(seq 1 300); do
  address=$(sed -n 's/.*serving on \([^ ]*\).*/\1/p' "$log" | head -1)
  [[ -n "$address" ]] && break
  kill -0 $server 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
[[ -n "$address" ]] || { echo "soak: the server did not start" >&2; cat "$log"; exit 1; }
sed -n '1,20p' "$log" >&2
echo "soak: $(date -u +%FT%TZ), $(nproc) cores, ${seconds}s, $concurrency calls in flight against $address (pid $server)" >&2
hostile=""
if [[ "${SOAK_HOSTILE:-0}" == 1 ]]; then
  python3 "$root/scripts/hostile-client.py" "$address" "$state/tls/ca.pem" "$root" \
    "${SOAK_HOSTILE_IDLE:-50}" "${SOAK_HOSTILE_SLOW:-8}" &
  hostile=$!
  # SIGINT makes it print its last counts; grpcio's exit may then hang on its open channels.
  trap 'kill -INT $hostile 2>/dev/null; sleep 2; kill -KILL $hostile 2>/dev/null; kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
  echo "soak: hostile client (pid $hostile) beside the load" >&2
  sleep 5
fi
"$bin/carbonhub" load --server "$address" --state-dir "$state" --server-pid "$server" --examples "$root" \
  --duration "$seconds" --max-requests "${SOAK_MAX_REQUESTS:-100000000}" --concurrency "$concurrency" \
  --connections 4 --warmup 200 --max-rss-drift "${SOAK_MAX_DRIFT:-10}" --json

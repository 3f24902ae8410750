#!/usr/bin/env bash
# Builds everything — the host, every Swift plugin and the C example plugin, with their
# manifests — and runs the host on the embedded default: every plugin of the build directory on
# 127.0.0.1:8443 (gRPC) and 127.0.0.1:8444 (HTTP/JSON), TLS with a development CA generated on
# first start (its path is printed).
# Arguments go to `carbonhub serve` (e.g. `scripts/serve.sh --listen 127.0.0.1:9443`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-packages.sh serve   # before the long build: the C plugin needs libprotobuf-c-dev
swift build
bin=$(swift build --show-bin-path)
scripts/build-c-plugins.sh "$bin"
scripts/write-manifests.sh "$bin"   # the host refuses a plugin whose bytes differ from its manifest
scripts/copy-examples.sh "$bin"     # each plugin's examples beside it: the console and OpenAPI offer them
# With the HTTP/JSON gateway (and its OpenAPI description) beside gRPC; a later
# --http-listen in the arguments wins.
exec "$bin/carbonhub" serve --http-listen 127.0.0.1:8444 "$@"

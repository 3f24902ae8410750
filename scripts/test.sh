#!/usr/bin/env bash
# Runs every test of the repository: builds the host, every Swift plugin (dynamic libraries),
# the C plugins and the broken test plugins, then `swift test`. Extra arguments go to
# `swift test` (e.g. `scripts/test.sh --filter EndToEnd`).
#
# Needs: the Swift toolchain, gcc, libprotobuf-c-dev, libsqlite3-dev, openssl, python3 with grpcio,
# grpcio-tools, grpcio-status, cryptography, sslyze, httpx, openapi-spec-validator, schemathesis and selenium (installed here with pip if missing), and PostgreSQL for the COP pool's
# PostgreSQL backend tests, nginx for the scale-out test. `.ci/run` installs the Debian packages.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-packages.sh all   # Debian packages first, before the long build

if ! python3 -c "import grpc, grpc_tools, grpc_status, cryptography" 2>/dev/null; then
  echo "installing grpcio, grpcio-tools, grpcio-status and cryptography for the Python interoperability tests" >&2
  python3 -m pip install --quiet grpcio grpcio-tools grpcio-status cryptography
fi
# httpx calls the HTTP/JSON gateway, openapi-spec-validator checks its OpenAPI and schemathesis
# drives it from that description; Selenium clicks through the web console in Debian's chromium
# with its chromedriver (HTTPGatewayTests).
if ! python3 -c "import httpx, openapi_spec_validator, schemathesis, selenium" 2>/dev/null; then
  echo "installing httpx, openapi-spec-validator, schemathesis and selenium for the HTTP gateway tests" >&2
  python3 -m pip install --quiet httpx openapi-spec-validator schemathesis selenium
fi
# sslyze checks the host's TLS against Mozilla's intermediate profile (TLSHygieneSecurityTests).
if ! python3 -c "import sslyze" 2>/dev/null; then
  echo "installing sslyze for the TLS profile test" >&2
  python3 -m pip install --quiet sslyze || echo "sslyze could not be installed: its test will be skipped" >&2
fi

# The COP pool's PostgreSQL tests run against a real server when PostgreSQL is installed
# (.ci/run installs it); without it they are skipped with a visible message.
if [[ -z "${CARBONHUB_TEST_POSTGRES_URL:-}" ]] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  export CARBONHUB_TEST_POSTGRES_URL="$(bash Plugins/COPVivier/scripts/start-test-postgres.sh)"
fi

swift build --build-tests
bin=$(swift build --show-bin-path)
scripts/build-c-plugins.sh "$bin" "$root/.build/test-fixtures"
# Manifests of the repository's own plugins (unsigned): the tests load them as a deployment would.
scripts/write-manifests.sh "$bin"
# Which plugins the repository has (the tests read it; `swift package` cannot run under `swift test`).
scripts/plugins.sh > "$bin/plugins.tsv"
# Their examples beside them (libESCA.so.examples/): the OpenAPI description and the console offer them.
scripts/copy-examples.sh "$bin" "$bin/plugins.tsv"

export CARBONHUB_PLUGIN_DIR="$bin"
export CARBONHUB_FIXTURE_DIR="$root/.build/test-fixtures"
# All in one parallel run, at most 8 tests at a time. The hosts that tests start in process need
# Swift's cooperative pool (two threads on a 2-core machine) to resume their tasks, so nothing may
# hold its threads for long: tests wait for child processes, servers and databases by suspending
# (`ProcessExit`, the async `runProcess`); the COP pool's PostgreSQL bridge runs on its module's
# own executor; suites that compute for long stretches run on threads of their own (`.cpuBound`,
# Sources/CarbonTestSupport). The bound on tests at a time keeps the start of the run from queueing
# seconds of work ahead of those hosts (measured with a 10 ms sleep: resumed up to 7.2 s late
# with every test started at once, under 1 s with 8). With arguments (e.g. --filter), those.
if [[ $# -gt 0 ]]; then
  swift test --skip-build "$@"
else
  swift test --skip-build --experimental-maximum-parallelization-width 8
fi

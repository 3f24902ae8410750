#!/usr/bin/env bash
# Builds the C plugins with the system C compiler against carbon_plugin.h and protobuf-c:
#   scripts/build-c-plugins.sh PLUGIN_DIR [FIXTURE_DIR]
# PLUGIN_DIR receives the example module libgwp.so (next to the Swift plugins, so the embedded
# default deployment serves it) and its manifest (scripts/write-manifests.sh, when carbonhub is
# built). FIXTURE_DIR, if given, receives the deliberately broken test plugins used by the
# loader tests (no manifests: the tests write their own). Needs gcc and libprotobuf-c-dev.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: build-c-plugins.sh PLUGIN_DIR [FIXTURE_DIR]}
fixtures=${2:-}
cc=${CC:-gcc}
abi="$root/sdk/include"
flags=(-O2 -fPIC -shared -fvisibility=hidden -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE -I"$abi")

mkdir -p "$out"
gen="$root/Plugins/examples/gwp-c/generated"
"$cc" "${flags[@]}" -I"$gen" -o "$out/libgwp.so" \
  "$root/Plugins/examples/gwp-c/gwp_plugin.c" \
  "$gen/carbon/examples/v1/gwp.pb-c.c" "$gen/carbon/domain/v1/gas.pb-c.c" \
  -l:libprotobuf-c.so.1 -lm
chmod 755 "$out/libgwp.so"
# Its manifest, when carbonhub is built (the host refuses a plugin whose bytes differ from its
# manifest, so a stale one from an earlier build must not survive a rebuild).
rm -f "$out/libgwp.so.manifest.json" "$out/libgwp.so.manifest.sig"
carbonhub=${CARBONHUB:-$out/carbonhub}
if [[ -x "$carbonhub" ]]; then
  CARBONHUB="$carbonhub" "$root/scripts/write-manifests.sh" "$out" libgwp.so
else
  echo "build-c-plugins.sh: no $carbonhub: libgwp.so gets no manifest (run scripts/write-manifests.sh $out once it is built)" >&2
fi

if [[ -n "$fixtures" ]]; then
  mkdir -p "$fixtures"
  fixtures=$(cd "$fixtures" && pwd)
  for source in "$root"/Tests/Fixtures/broken-plugins/*.c; do
    name=$(basename "$source" .c)
    "$cc" "${flags[@]}" -o "$fixtures/lib$name.so" "$source"
    chmod 755 "$fixtures/lib$name.so"
  done
  # A second version of the sleepy fixture, for reload tests.
  "$cc" "${flags[@]}" -DSLEEPY_VERSION='"2.0.0"' -o "$fixtures/libsleepy-v2.so" "$root/Tests/Fixtures/broken-plugins/sleepy.c"
  chmod 755 "$fixtures/libsleepy-v2.so"
  # The pre-call_bidi module declaring a bidirectional method it cannot serve.
  "$cc" "${flags[@]}" -DDECLARES_BIDI -o "$fixtures/libbidi_without_entry.so" "$root/Tests/Fixtures/broken-plugins/pre_bidi.c"
  chmod 755 "$fixtures/libbidi_without_entry.so"
  # Further versions of ESCA made from the build's own libESCA.so, for the tests of versions
  # served side by side: 1.1.0 with one more request field (SoilStockRequest.audit_reference),
  # 1.2.0-rc.1 a pre-release. Tests/Fixtures/version-shims says how.
  versions=()
  if [[ -f "$out/libESCA.so" ]]; then
    shim="$root/Tests/Fixtures/version-shims"
    python3 "$shim/add_field.py" "$root/Plugins/ESCA/Module/Generated/descriptor_set.binpb" \
      carbon.esca.v1.SoilStockRequest audit_reference 100 "$fixtures/esca-1.1.0-descriptors.h"
    "$cc" "${flags[@]}" -DWRAPPED_PLUGIN="\"$out/libESCA.so\"" -DSHIM_VERSION='"1.1.0"' \
      -DSHIM_DESCRIPTOR_HEADER="\"$fixtures/esca-1.1.0-descriptors.h\"" -o "$fixtures/libesca-1.1.0.so" "$shim/module_version.c" -ldl -pthread
    "$cc" "${flags[@]}" -DWRAPPED_PLUGIN="\"$out/libESCA.so\"" -DSHIM_VERSION='"1.2.0-rc.1"' \
      -o "$fixtures/libesca-1.2.0-rc.1.so" "$shim/module_version.c" -ldl -pthread
    chmod 755 "$fixtures/libesca-1.1.0.so" "$fixtures/libesca-1.2.0-rc.1.so"
    versions=(libesca-1.1.0.so libesca-1.2.0-rc.1.so)
  fi
  # Manifests of the fixtures that load (a deployment requires one of every plugin it does not
  # pin); the ones refused at load (wrong ABI, no entry symbol, undeclared call_bidi) and the
  # constructor marker (its tests write their own) get none.
  rm -f "$fixtures"/*.manifest.json "$fixtures"/*.manifest.sig
  if [[ -x "$carbonhub" ]]; then
    CARBONHUB="$carbonhub" "$root/scripts/write-manifests.sh" "$fixtures" libbidi_sum.so libcrashy.so \
      libfailing_init.so libleaky.so libpre_bidi.so libsleepy.so libsleepy-v2.so libchatty.so libflood.so libescape.so \
      "${versions[@]}"
  fi
fi

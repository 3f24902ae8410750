#!/usr/bin/env bash
# Regenerates every piece of code derived from protocols/*.proto and commits nothing:
#   - Swift messages and gRPC stubs (protoc-gen-swift, protoc-gen-grpc-swift-2),
#   - C messages for the C example plugin (protoc-c),
#   - the serialized FileDescriptorSet each plugin embeds for gRPC reflection.
# Generated files are committed; `scripts/check-generated.sh` verifies they are current.
#
# The Swift protoc plugins are built once from the pinned package mirrors into
# .build-protoc-plugins/ (about 2.5 minutes, release). Set PROTOC_GEN_SWIFT and
# PROTOC_GEN_GRPC_SWIFT to reuse binaries you already have.
set -euo pipefail
# Usage: scripts/generate-protos.sh            regenerate everything
#        scripts/generate-protos.sh PLUGIN_DIR  regenerate one Swift plugin (folder with protos.list)
only=${1:-}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
proto=protocols

ensure_plugins() {
  if [[ -n "${PROTOC_GEN_SWIFT:-}" && -n "${PROTOC_GEN_GRPC_SWIFT:-}" ]]; then return; fi
  local tools="$root/.build-protoc-plugins"
  mkdir -p "$tools/pkg/Dummy"
  cat > "$tools/pkg/Package.swift" <<'SWIFT'
// swift-tools-version:6.0
import PackageDescription
let package = Package(
  name: "protoc-plugins",
  dependencies: [
    .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
  ],
  targets: [.target(name: "Dummy", path: "Dummy")]
)
SWIFT
  echo "" > "$tools/pkg/Dummy/empty.swift"
  (cd "$tools/pkg" && swift build -c release --product protoc-gen-swift >&2 \
    && swift build -c release --product protoc-gen-grpc-swift-2 >&2)
  PROTOC_GEN_SWIFT="$tools/pkg/.build/release/protoc-gen-swift"
  PROTOC_GEN_GRPC_SWIFT="$tools/pkg/.build/release/protoc-gen-grpc-swift-2"
}
ensure_plugins

swift_messages() { # out_dir visibility module_mappings files...
  local out=$1 visibility=$2 mappings=$3; shift 3
  mkdir -p "$out"
  local opts="Visibility=$visibility,FileNaming=PathToUnderscores"
  [[ -n "$mappings" ]] && opts="$opts,ProtoPathModuleMappings=$mappings"
  protoc -I "$proto" --plugin=protoc-gen-swift="$PROTOC_GEN_SWIFT" \
    --swift_out="$opts:$out" "$@"
}
swift_grpc() { # out_dir visibility extra_imports client server files...
  local out=$1 visibility=$2 imports=$3 client=$4 server=$5; shift 5
  mkdir -p "$out"
  local opts="Visibility=$visibility,FileNaming=PathToUnderscores,Client=$client,Server=$server"
  [[ -n "$imports" ]] && opts="$opts,ExtraModuleImports=$imports"
  protoc -I "$proto" --plugin=protoc-gen-grpc-swift="$PROTOC_GEN_GRPC_SWIFT" \
    --grpc-swift_out="$opts:$out" "$@"
}
descriptor_set() { # out_file files...
  local out=$1; shift
  mkdir -p "$(dirname "$out")"
  protoc -I "$proto" --include_imports --include_source_info=false --descriptor_set_out="$out" "$@"
}

generate_plugin() { # dir-with-protos.list
  local dir=$1 files
  files=$(grep -v '^\s*#' "$dir/protos.list" | grep -v '^\s*$')
  rm -rf "$dir/Generated"
  swift_messages "$dir/Generated" Public "$mapping_file" $files
  descriptor_set "$dir/Generated/descriptor_set.binpb" $files
}

domain_files=$(cd "$proto" && ls carbon/domain/v1/*.proto)
mapping_file="$root/.build-protoc-plugins/domain.asciipb"
mkdir -p "$(dirname "$mapping_file")"
{
  echo "mapping {"
  echo "  module_name: \"CarbonDomain\""
  for f in $domain_files; do echo "  proto_file_path: \"$f\""; done
  echo "}"
} > "$mapping_file"

if [[ -n "$only" ]]; then
  generate_plugin "${only%/}"
  echo "generated $only" >&2
  exit 0
fi

# Shared domain types.
rm -rf sdk/carbonhub-sdk/Sources/CarbonDomain/Generated
swift_messages sdk/carbonhub-sdk/Sources/CarbonDomain/Generated Public "" $domain_files

# Host's own services (host API, health, reflection): server and client stubs.
rm -rf Sources/CarbonHostProtocol/Generated
host_files="carbon/host/v1/host.proto carbon/host/v1/receipt.proto grpc/health/v1/health.proto grpc/reflection/v1/reflection.proto"
swift_messages Sources/CarbonHostProtocol/Generated Public "" $host_files
swift_grpc Sources/CarbonHostProtocol/Generated Public "" true true $host_files
descriptor_set Sources/CarbonHostProtocol/Generated/descriptor_set.binpb $host_files

# Swift plugins: every folder under Plugins/ with a `protos.list` (one .proto path per line,
# relative to protocols/) gets its messages in Generated/ and the descriptor set it embeds.
while IFS= read -r list; do
  generate_plugin "$(dirname "$list")"
done < <(find Plugins -name protos.list | sort)

# Clients the tests use to call plugins over gRPC like any remote client would.
rm -rf Tests/CarbonHostTests/Generated
example_files="carbon/examples/v1/units.proto carbon/examples/v1/gwp.proto"
swift_messages Tests/CarbonHostTests/Generated Internal "$mapping_file" $example_files
swift_grpc Tests/CarbonHostTests/Generated Internal "CarbonDomain" true false $example_files

# Test-only messages covering every field kind of the wire format (OnePassBinaryEncoderTests).
rm -rf Tests/CarbonPluginKitTests/Generated
swift_messages Tests/CarbonPluginKitTests/Generated Internal "" carbon/testing/v1/wire_format.proto

# The benchmark's view of the C example module's messages (it measures both examples).
rm -rf Benchmarks/CarbonBench/Generated
swift_messages Benchmarks/CarbonBench/Generated Internal "$mapping_file" carbon/examples/v1/gwp.proto

# C example plugin: protobuf-c messages and the descriptor set as a C array.
c_out=Plugins/examples/gwp-c/generated
rm -rf "$c_out"; mkdir -p "$c_out"
protoc -I "$proto" --c_out="$c_out" carbon/domain/v1/gas.proto carbon/examples/v1/gwp.proto
descriptor_set "$c_out/descriptor_set.binpb" carbon/examples/v1/gwp.proto
python3 - "$c_out/descriptor_set.binpb" "$c_out/gwp_descriptor_set.h" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
lines = [", ".join(f"0x{b:02x}" for b in data[i:i + 12]) for i in range(0, len(data), 12)]
with open(sys.argv[2], "w") as f:
    f.write("/* Generated by scripts/generate-protos.sh: serialized FileDescriptorSet of gwp.proto. */\n")
    f.write("#include <stddef.h>\n#include <stdint.h>\n")
    f.write("static const uint8_t gwp_descriptor_set[] = {\n  " + ",\n  ".join(lines) + "\n};\n")
    f.write(f"static const size_t gwp_descriptor_set_length = {len(data)};\n")
PY
rm "$c_out/descriptor_set.binpb"

echo "generated code is up to date" >&2

import ArgumentParser
import Foundation

extension CarbonHub.PluginCommand {
  /// `carbonhub plugin new --lang c NAME`: a working module to start from, out of this tree.
  struct New: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write a working module skeleton in a new folder: builds, verifies and serves with the commands it prints.",
      discussion: """
        --lang c: NAME_plugin.c against carbon_plugin.h with protobuf-c, proto/NAME/v1/NAME.proto
        (package NAME.v1, your own), a Makefile that includes the SDK's carbonhub-plugin.mk
        (targets all, verify, sign, serve, clean), examples/ with their .expect.json, and a
        README. The module multiplies a quantity by a factor, with a trace-free answer and an
        error naming the field: replace it with your method.
        """)

    @Argument(help: "Module name: a lowercase letter, then lowercase letters and digits (it names the proto package NAME.v1 too).")
    var name: String

    @Option(name: .long, help: "Language of the module: c or swift.")
    var lang: String = "c"

    @Option(name: .long, help: "Parent folder of the new module folder NAME (default: the current folder).")
    var dir: String = FileManager.default.currentDirectoryPath

    func validate() throws {
      guard let first = name.unicodeScalars.first, ("a"..."z").contains(first),
        name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) }), name.count <= 40
      else {
        throw ValidationError("NAME must be a lowercase letter then lowercase letters and digits (at most 40), e.g. hedge")
      }
      guard lang == "c" || lang == "swift" else { throw ValidationError("--lang: c or swift") }
    }

    func run() throws {
      let folder = dir + "/" + name
      guard !FileManager.default.fileExists(atPath: folder) else { throw ValidationError("\(folder) exists: choose another NAME or --dir") }
      let sdk = try CarbonHub.SDK.directory()
      if lang == "swift" { return try writeSwift(folder: folder, sdk: sdk) }
      let files = CScaffold(name: name).files
      try Self.write(files, into: folder)
      let executable = Defaults.executable
      printOut(
        """
        wrote \(folder)/: \(files.map(\.path).sorted().joined(separator: ", "))
        next:
          cd \(folder)
          make CARBONHUB=\(executable)            # lib\(name).so and its manifest (SDK: \(sdk))
          make verify CARBONHUB=\(executable)     # the ABI contract, and examples/ against their .expect.json
          make serve CARBONHUB=\(executable)      # serves it on 127.0.0.1:8443 (development certificate)
          \(executable) call \(name).Compute --json examples/Compute.json   # from another terminal
        """)
    }
  }
}

extension CarbonHub.PluginCommand.New {
  /// Writes a Swift package on the SDK, and generates its messages and descriptor set (protoc
  /// with protoc-gen-swift: `$PROTOC_GEN_SWIFT`, else the one `scripts/generate-protos.sh`
  /// built in the checkout).
  func writeSwift(folder: String, sdk: String) throws {
    let scaffold = SwiftScaffold(name: name, sdk: sdk)
    try Self.write(scaffold.files, into: folder)
    chmod(folder + "/generate.sh", 0o755)
    let generated = try runGenerate(folder)
    let executable = Defaults.executable
    printOut(
      """
      wrote \(folder)/: \(scaffold.files.map(\.path).sorted().joined(separator: ", "))\(generated ? ", Sources/\(scaffold.typeName)Module/Generated/" : "")
      \(generated ? "" : "run ./generate.sh once PROTOC_GEN_SWIFT names a protoc-gen-swift (the checkout's scripts/generate-protos.sh builds one)\n")next:
        cd \(folder)
        swift build                                  # .build/debug/lib\(scaffold.typeName).so (the host's toolchain: \(sdk))
        swift test                                   # examples/ against their .expect.json, in process
        \(executable) verify .build/debug/lib\(scaffold.typeName).so --samples examples
        \(executable) plugin manifest .build/debug/lib\(scaffold.typeName).so
        \(executable) serve --plugins .build/debug
      """)
  }

  /// Writes each file under `folder`, creating the directories on the way.
  static func write(_ files: [(path: String, text: String)], into folder: String) throws {
    for (path, text) in files {
      let full = folder + "/" + path
      try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      try text.write(toFile: full, atomically: true, encoding: .utf8)
    }
  }

  private func runGenerate(_ folder: String) throws -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = [folder + "/generate.sh"]
    process.currentDirectoryURL = URL(fileURLWithPath: folder)
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus == 0
  }
}

/// The files of a new Swift module: a package on the SDK (`sdk/carbonhub-sdk`), its own proto
/// package, the entry, examples and a test that runs them.
struct SwiftScaffold {
  let name: String
  let sdk: String

  var typeName: String { name.prefix(1).uppercased() + name.dropFirst() }
  /// SwiftProtobuf's type prefix for package `NAME.v1`.
  var messagePrefix: String { "\(typeName)_V1_" }

  var files: [(path: String, text: String)] {
    [
      ("Package.swift", package),
      ("proto/\(name)/v1/\(name).proto", CScaffold(name: name).proto),
      ("Sources/\(typeName)Module/\(typeName)Module.swift", module),
      ("Sources/\(typeName)/Entry.swift", entry),
      ("Tests/\(typeName)Tests/ExamplesTests.swift", tests),
      ("generate.sh", generate),
      (".gitignore", ".build/\nPackage.resolved\n"),
    ] + CScaffold.examples
  }

  var package: String {
    """
    // swift-tools-version:6.1
    // The \(name) module: a carbonhub calculation module in Swift, on the SDK alone. Build it
    // with the Swift toolchain that built the host (Swift has no stable ABI on Linux).
    import PackageDescription

    /// The carbonhub SDK (the `sdk` folder of a carbonhub checkout; `carbonhub sdk path`).
    let sdk = Context.environment["CARBONHUB_SDK"] ?? "\(sdk)"

    let package = Package(
      name: "\(name)",
      products: [.library(name: "\(typeName)", type: .dynamic, targets: ["\(typeName)"])],
      dependencies: [
        .package(path: sdk + "/carbonhub-sdk"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
      ],
      targets: [
        .target(
          name: "\(typeName)Module",
          dependencies: [
            .product(name: "CarbonPluginKit", package: "carbonhub-sdk"),
            .product(name: "CarbonDomain", package: "carbonhub-sdk"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
          ],
          resources: [.embedInCode("Generated/descriptor_set.binpb")]
        ),
        // The library the host loads: the entry point, exported alone.
        .target(
          name: "\(typeName)",
          dependencies: ["\(typeName)Module", .product(name: "CarbonPluginKit", package: "carbonhub-sdk")],
          linkerSettings: [.unsafeFlags(["-Xlinker", "--version-script=" + sdk + "/carbonhub-sdk/plugin-exports.map"])]
        ),
        // Tests run the module in process with the SDK's harness (never linked into the library).
        .testTarget(
          name: "\(typeName)Tests",
          dependencies: ["\(typeName)Module", .product(name: "CarbonPluginTesting", package: "carbonhub-sdk")]
        ),
      ]
    )

    """
  }

  var module: String {
    """
    import CarbonDomain
    import CarbonPluginKit

    /// quantity × factor: replace it with your method (see the SDK's CarbonPluginKit).
    public struct \(typeName)Module: CarbonModule {
      public static let name = "\(name)"
      public static let version = "0.1.0"
      public static let summary = "quantity × factor (a new module: describe yours)"
      public static let descriptorSet = PackageResources.descriptor_set_binpb
      public static let methods: [ModuleMethod<\(typeName)Module>] = [
        .unary("/\(name).v1.\(typeName)/Compute", \(typeName)Module.compute)
      ]

      public init(context: ModuleContext) throws(ModuleError) {}

      public func compute(_ request: \(messagePrefix)ComputeRequest) throws(ModuleError) -> \(messagePrefix)ComputeResponse {
        _ = try Validate.finite(request.quantity, "quantity")
        guard request.quantity >= 0 else { throw .invalidArgument("quantity", "must be a finite number >= 0") }
        _ = try Validate.finite(request.factor, "factor")
        var response = \(messagePrefix)ComputeResponse()
        response.result = request.quantity * request.factor
        return response
      }
    }

    """
  }

  var entry: String {
    """
    import CarbonPluginKit
    import \(typeName)Module

    /// The library's one exported C symbol (see carbon_plugin.h).
    @_cdecl("carbon_plugin_entry")
    public func carbonPluginEntry() -> UnsafeRawPointer {
      PluginExport.descriptor(for: \(typeName)Module.self)
    }

    """
  }

  var tests: String {
    """
    import CarbonPluginTesting
    import Foundation
    import Testing
    import \(typeName)Module

    /// Every example of examples/ answers as its .expect.json says, in process.
    @Test func examplesAnswerAsExpected() throws {
      let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples").path
      let problems = try ModuleHarness<\(typeName)Module>().verifyExamples(in: examples)
      #expect(problems.isEmpty, "\\(problems)")
    }

    """
  }

  var generate: String {
    """
    #!/usr/bin/env bash
    # Generates the Swift messages and the descriptor set of proto/ (run after changing a .proto).
    # Needs protoc (Debian: protobuf-compiler) and protoc-gen-swift: $PROTOC_GEN_SWIFT, else the
    # one the carbonhub checkout's scripts/generate-protos.sh builds.
    set -euo pipefail
    cd "$(dirname "$0")"
    plugin=${PROTOC_GEN_SWIFT:-\((sdk as NSString).deletingLastPathComponent)/.build-protoc-plugins/pkg/.build/release/protoc-gen-swift}
    [[ -x "$plugin" ]] || { echo "generate.sh: no protoc-gen-swift at $plugin: set PROTOC_GEN_SWIFT" >&2; exit 1; }
    out=Sources/\(typeName)Module/Generated
    mkdir -p "$out"
    protos=$(cd proto && find . -name '*.proto' | sed 's|^./||' | sort)
    protoc -I proto --plugin=protoc-gen-swift="$plugin" --swift_out="$out" --swift_opt=Visibility=Public $protos
    protoc -I proto --include_imports --descriptor_set_out="$out/descriptor_set.binpb" $protos

    """
  }
}

/// The files of a new C module: protobuf-c for the messages, the host for JSON.
struct CScaffold {
  let name: String

  /// "Hedge" for "hedge": the service name, and protobuf-c's type prefix.
  var typeName: String { name.prefix(1).uppercased() + name.dropFirst() }

  var files: [(path: String, text: String)] {
    [
      ("proto/\(name)/v1/\(name).proto", proto),
      ("\(name)_plugin.c", source),
      ("Makefile", makefile),
      (".gitignore", "build/\nlib\(name).so\nlib\(name).so.manifest.*\n"),
      ("README.md", readme),
    ] + Self.examples
  }

  /// The examples of a new module, in either language (the same proto and method): a case that
  /// succeeds with its value, and one that fails naming the field.
  static let examples: [(path: String, text: String)] = [
    ("examples/Compute.json", #"{"quantity": 2.5, "factor": 4}"# + "\n"),
    ("examples/Compute.expect.json", #"{"values": {"result": [10, 1e-12]}}"# + "\n"),
    ("examples/Compute.negative.json", #"{"quantity": -1, "factor": 4}"# + "\n"),
    ("examples/Compute.negative.expect.json", #"{"status": "INVALID_ARGUMENT", "field": "quantity"}"# + "\n"),
  ]

  var proto: String {
    """
    // The \(name) module's messages and service. Field names are the JSON names callers use.
    syntax = "proto3";

    package \(name).v1;

    service \(typeName) {
      // quantity × factor.
      rpc Compute(ComputeRequest) returns (ComputeResponse);
    }

    message ComputeRequest {
      // Must be ≥ 0.
      double quantity = 1;
      double factor = 2;
    }

    message ComputeResponse {
      double result = 1;
    }

    """
  }

  var source: String {
    let prefix = "\(typeName)__V1__"
    let function = "\(name)__v1__"
    return """
      /* The \(name) module: a carbonhub calculation module in C (see carbon_plugin.h for every
      ** field's meaning, ownership and thread-safety). It reads and writes protobuf only, with
      ** protobuf-c; the host converts JSON callers' requests and the answers. */
      #include <math.h>
      #include <stdio.h>
      #include <stdlib.h>
      #include <string.h>

      #include "carbon_plugin.h"
      #include "\(name)/v1/\(name).pb-c.h"
      #include "descriptor_set.h"

      #define COMPUTE "/\(name).v1.\(typeName)/Compute"

      static const carbon_method METHODS[] = {{COMPUTE, CARBON_METHOD_UNARY}};
      static int instance_marker; /* stateless: every instance is this */

      static void fail(carbon_call_result *result, carbon_status status, const char *field, const char *message) {
        result->status = status;
        result->error_field = field ? strdup(field) : NULL;
        size_t length = strlen(message) + (field ? strlen(field) + 2 : 0) + 1;
        result->error_message = malloc(length);
        if (result->error_message) snprintf(result->error_message, length, "%s%s%s", field ? field : "", field ? ": " : "", message);
      }

      static carbon_status initialize(void *module_data, const char *config, size_t config_length, const char *data_dir,
                                      void **instance_out, char **error_out) {
        (void)module_data; (void)config; (void)config_length; (void)data_dir; (void)error_out;
        *instance_out = &instance_marker;
        return CARBON_STATUS_OK;
      }

      static void call(void *instance, const char *path, carbon_encoding encoding, const uint8_t *request,
                       size_t request_length, carbon_emit_fn emit, void *emit_context, carbon_call_result *result) {
        (void)instance; (void)encoding; (void)emit; (void)emit_context; /* encoding: always protobuf */
        if (strcmp(path, COMPUTE) != 0) {
          fail(result, CARBON_STATUS_UNIMPLEMENTED, NULL, "no such method");
          return;
        }
        \(prefix)ComputeRequest *in = \(function)compute_request__unpack(NULL, request_length, request);
        if (!in) {
          fail(result, CARBON_STATUS_INVALID_ARGUMENT, NULL, "not a valid protobuf \(name).v1.ComputeRequest");
          return;
        }
        if (!isfinite(in->quantity) || in->quantity < 0) {
          fail(result, CARBON_STATUS_INVALID_ARGUMENT, "quantity", "must be a finite number >= 0");
        } else if (!isfinite(in->factor)) {
          fail(result, CARBON_STATUS_INVALID_ARGUMENT, "factor", "must be a finite number");
        } else {
          \(prefix)ComputeResponse out = \(prefix.uppercased())COMPUTE_RESPONSE__INIT;
          out.result = in->quantity * in->factor;
          size_t length = \(function)compute_response__get_packed_size(&out);
          result->response = malloc(length ? length : 1);
          if (!result->response) {
            fail(result, CARBON_STATUS_RESOURCE_EXHAUSTED, NULL, "out of memory");
          } else {
            \(function)compute_response__pack(&out, result->response);
            result->response_length = length;
            result->status = CARBON_STATUS_OK;
          }
        }
        \(function)compute_request__free_unpacked(in, NULL);
      }

      static void free_buffer(void *buffer) { free(buffer); }
      static void shutdown_instance(void *instance) { (void)instance; }

      static const carbon_plugin_descriptor DESCRIPTOR = {
          .abi_version = CARBON_PLUGIN_ABI_VERSION,
          .struct_size = sizeof(carbon_plugin_descriptor),
          .name = "\(name)",
          .version = "0.1.0",
          .description = "quantity × factor (a new module: describe yours)",
          .methods = METHODS,
          .method_count = sizeof METHODS / sizeof METHODS[0],
          .descriptor_set = \(name)_descriptor_set,
          .descriptor_set_length = sizeof \(name)_descriptor_set,
          .initialize = initialize,
          .call = call,
          .free_buffer = free_buffer,
          .shutdown = shutdown_instance,
          .encodings = CARBON_ENCODINGS_PROTOBUF,
      };

      CARBON_PLUGIN_EXPORT const carbon_plugin_descriptor *carbon_plugin_entry(void) { return &DESCRIPTOR; }

      """
  }

  var makefile: String {
    """
    # Builds lib\(name).so out of the carbonhub tree: `make`, `make verify`, `make sign KEY=…`, `make serve`.
    PLUGIN  := \(name)
    PROTO   := proto/\(name)/v1/\(name).proto
    SOURCES := \(name)_plugin.c
    CARBONHUB ?= carbonhub
    include $(shell $(CARBONHUB) sdk path)/c/carbonhub-plugin.mk

    """
  }

  var readme: String {
    """
    # \(name)

    A carbonhub calculation module in C. `make` builds `lib\(name).so` and its manifest, `make
    verify` checks the ABI contract and runs `examples/` against their `.expect.json`, `make sign
    KEY=you.key` signs it (`carbonhub plugin keygen --out you` makes the key), `make serve`
    serves it. Change `proto/\(name)/v1/\(name).proto` and `\(name)_plugin.c` into your method.
    See the carbonhub repository's docs/writing-a-plugin.md.

    """
  }
}

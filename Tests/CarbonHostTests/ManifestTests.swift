import CarbonHost
import CarbonPluginLoader
import Foundation
import Testing

/// A copy of the constructor-marker fixture plugin in its own directory, with an unsigned
/// manifest naming publisher `acme`, and two publisher key pairs (`acme`, `mallory`).
///
/// Every check runs `carbonhub plugin verify` in a child process whose
/// `CARBONHUB_MARKER_FILE` points at `marker`: the fixture's constructor writes that file as
/// soon as the library is loaded, so its absence after a refusal proves no plugin code ran.
struct MarkerWorkspace {
  let directory: String
  let library: String
  let marker: String
  let keys: String

  var manifestPath: String { library + ".manifest.json" }
  var signaturePath: String { library + ".manifest.sig" }
  var markerExists: Bool { FileManager.default.fileExists(atPath: marker) }

  init(_ label: String) async throws {
    directory = try TestEnvironment.temporaryDirectory("manifest-\(label)")
    keys = try TestEnvironment.temporaryDirectory("keys-\(label)")
    library = directory + "/libconstructor_marker.so"
    marker = keys + "/marker"
    try FileManager.default.copyItem(
      atPath: try TestEnvironment.plugin("libconstructor_marker.so", in: TestEnvironment.fixtureDirectory), toPath: library)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: library)
    for name in ["acme", "mallory"] {
      let keygen = try await carbonhub(["plugin", "keygen", "--out", keys + "/" + name])
      try #require(keygen.status == 0, "\(keygen.output)")
    }
    // Writing a manifest loads the library (a build step for trusted binaries): its
    // constructor runs, which also proves the marker mechanism works at all.
    let buildMarker = keys + "/build-marker"
    let manifest = try await carbonhub(["plugin", "manifest", library, "--publisher", "acme"], marker: buildMarker)
    try #require(manifest.status == 0, "\(manifest.output)")
    try #require(FileManager.default.fileExists(atPath: buildMarker), "the fixture's constructor must write its marker when loaded")
  }

  /// Runs carbonhub with the marker variable set.
  func carbonhub(_ arguments: [String], marker: String? = nil) async throws -> (status: Int32, output: String) {
    try await runProcess(
      try TestEnvironment.plugin("carbonhub"), arguments, environment: ["CARBONHUB_MARKER_FILE": marker ?? self.marker],
      timeout: 120)
  }

  /// `carbonhub plugin verify` with `acme` trusted and signatures required.
  func verifyStrict() async throws -> (status: Int32, output: String) {
    try await carbonhub(["plugin", "verify", library, "--require-signature", "--trust", "acme=\(keys)/acme.pub"])
  }

  func sign(with key: String) async throws {
    let run = try await carbonhub(["plugin", "sign", library, "--key", "\(keys)/\(key).key"])
    try #require(run.status == 0, "\(run.output)")
  }

  /// Rewrites part of the manifest's text (unsigned).
  func editManifest(_ old: String, _ new: String) throws {
    let text = try String(contentsOfFile: manifestPath, encoding: .utf8)
    try #require(text.contains(old), "\(old) in \(text)")
    try text.replacingOccurrences(of: old, with: new).write(toFile: manifestPath, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: manifestPath)
  }
}

@Suite("Plugin manifests and signatures: refusals before any plugin code runs", .serialized)
struct PluginManifestProcessTests {
  @Test func aTamperedBinaryIsRefusedBeforeItsCodeRuns() async throws {
    let workspace = try await MarkerWorkspace("tampered")
    // Flip one byte of the compiler's comment string: the library still loads (proved below),
    // only its bytes differ from those the manifest describes.
    var bytes = try Data(contentsOf: URL(fileURLWithPath: workspace.library))
    let comment = try #require(bytes.firstRange(of: Data("GCC: (".utf8)), "the fixture carries gcc's .comment")
    bytes[comment.lowerBound] = UInt8(ascii: "g")
    try bytes.write(to: URL(fileURLWithPath: workspace.library))
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: workspace.library)

    let refused = try await workspace.carbonhub(["plugin", "verify", workspace.library])
    #expect(refused.status == 1)
    #expect(refused.output.contains("is not the binary its manifest describes (the manifest says sha256"), "\(refused.output)")
    #expect(!workspace.markerExists, "no plugin code may run on a refusal")

    // Control: the same modified binary without its manifest loads, and its constructor runs.
    try FileManager.default.removeItem(atPath: workspace.manifestPath)
    let loaded = try await workspace.carbonhub(["plugin", "verify", workspace.library])
    #expect(loaded.status == 0, "\(loaded.output)")
    #expect(loaded.output.contains("no manifest"))
    #expect(workspace.markerExists, "the proof must be able to fail")
  }

  @Test func anUnsignedPluginIsRefusedUnderRequireSignature() async throws {
    let workspace = try await MarkerWorkspace("unsigned")
    let run = try await workspace.verifyStrict()
    #expect(run.status == 1)
    #expect(run.output.contains("is not signed (no \(workspace.signaturePath)) and the deployment sets trust.require_signature"), "\(run.output)")
    #expect(!workspace.markerExists)
  }

  @Test func aPluginSignedByAnUntrustedKeyIsRefused() async throws {
    let workspace = try await MarkerWorkspace("untrusted")
    let manifest = try await workspace.carbonhub(["plugin", "manifest", workspace.library, "--publisher", "mallory"], marker: workspace.keys + "/m2")
    try #require(manifest.status == 0, "\(manifest.output)")
    try await workspace.sign(with: "mallory")
    let run = try await workspace.verifyStrict()
    #expect(run.status == 1)
    #expect(run.output.contains("is signed by publisher 'mallory', which this deployment does not trust (trusted: acme)"), "\(run.output)")
    #expect(!workspace.markerExists)
  }

  @Test func aManifestClaimingATrustedPublisherButSignedByAnotherKeyIsRefused() async throws {
    let workspace = try await MarkerWorkspace("forged")
    try await workspace.sign(with: "mallory")  // the manifest names acme
    let run = try await workspace.verifyStrict()
    #expect(run.status == 1)
    #expect(run.output.contains("the signature does not verify with publisher 'acme''s key"), "\(run.output)")
    #expect(!workspace.markerExists)
  }

  @Test func aManifestForAnotherABIVersionIsRefused() async throws {
    let workspace = try await MarkerWorkspace("abi")
    try workspace.editManifest("\"abi_version\" : 1", "\"abi_version\" : 2")
    let run = try await workspace.carbonhub(["plugin", "verify", workspace.library])
    #expect(run.status == 1)
    #expect(run.output.contains("its manifest says plugin ABI version 2 but this host speaks version 1: rebuild the plugin"), "\(run.output)")
    #expect(!workspace.markerExists)
  }

  @Test func aGoodSignedPluginLoads() async throws {
    let workspace = try await MarkerWorkspace("good")
    try await workspace.sign(with: "acme")
    let run = try await workspace.verifyStrict()
    #expect(run.status == 0, "\(run.output)")
    #expect(run.output.contains("OK \(workspace.library): constructor-marker 0.0.1, ABI 1, 2 methods"), "\(run.output)")
    #expect(run.output.contains("manifest signed by 'acme'"))
    #expect((try? String(contentsOfFile: workspace.marker, encoding: .utf8)) == "constructor ran\n")
  }

  @Test func aDescriptorThatContradictsItsManifestIsRefusedAfterLoading() async throws {
    let workspace = try await MarkerWorkspace("mismatch")
    try workspace.editManifest("\"version\" : \"0.0.1\"", "\"version\" : \"9.9.9\"")
    let run = try await workspace.carbonhub(["plugin", "verify", workspace.library])
    #expect(run.status == 1)
    #expect(run.output.contains("version: manifest says 9.9.9, library declares 0.0.1"), "\(run.output)")
    // Only the descriptor can tell, so this check necessarily comes after dlopen.
    #expect(workspace.markerExists)
  }
}

@Suite("carbonhub plugin keygen / manifest / sign / verify", .serialized)
struct PluginCommandTests {
  @Test func keygenWritesAPrivateKeyOnlyTheOwnerReadsAndRefusesToOverwrite() async throws {
    let workspace = try await MarkerWorkspace("keygen")
    let attributes = try FileManager.default.attributesOfItem(atPath: workspace.keys + "/acme.key")
    #expect((attributes[.posixPermissions] as? Int) == 0o600)
    let publicKey = try String(contentsOfFile: workspace.keys + "/acme.pub", encoding: .utf8)
    #expect(Data(base64Encoded: publicKey.trimmingCharacters(in: .whitespacesAndNewlines))?.count == 32)
    let again = try await workspace.carbonhub(["plugin", "keygen", "--out", workspace.keys + "/acme"])
    #expect(again.status != 0)
    #expect(again.output.contains("acme.key exists: refusing to overwrite a key"), "\(again.output)")
  }

  @Test func manifestDescribesTheLibraryAndItsExactBytes() async throws {
    let workspace = try await MarkerWorkspace("manifest")
    let data = try #require(FileManager.default.contents(atPath: workspace.manifestPath))
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(object["format"] as? Int == 1)
    #expect(object["name"] as? String == "constructor-marker")
    #expect(object["version"] as? String == "0.0.1")
    #expect(object["abi_version"] as? Int == 1)
    #expect(object["publisher"] as? String == "acme")
    let methods = try #require(object["methods"] as? [[String: Any]])
    #expect(methods.map { $0["path"] as? String } == ["/carbon.test.v1.Marker/Call", "/carbon.test.v1.Marker/Stream"])
    #expect(methods.map { $0["server_streaming"] as? Bool } == [false, true])
    // The digest, computed independently.
    let sum = try await runProcess("/usr/bin/sha256sum", [workspace.library])
    #expect(object["sha256"] as? String == String(sum.output.prefix(64)))
    let attributes = try FileManager.default.attributesOfItem(atPath: workspace.manifestPath)
    #expect((attributes[.posixPermissions] as? Int) == 0o644, "the loader refuses sidecars writable by others")
  }

  @Test func signRefusesStaleOrUnnamedManifestsAndAnewManifestDropsTheOldSignature() async throws {
    let workspace = try await MarkerWorkspace("sign")
    try await workspace.sign(with: "acme")
    let signature = try String(contentsOfFile: workspace.signaturePath, encoding: .utf8)
    #expect(Data(base64Encoded: signature.trimmingCharacters(in: .whitespacesAndNewlines))?.count == 64)

    let rewritten = try await workspace.carbonhub(["plugin", "manifest", workspace.library], marker: workspace.keys + "/m2")
    #expect(rewritten.status == 0)
    #expect(rewritten.output.contains("removed \(workspace.signaturePath)"), "\(rewritten.output)")
    #expect(!FileManager.default.fileExists(atPath: workspace.signaturePath))
    let unnamed = try await workspace.carbonhub(["plugin", "sign", workspace.library, "--key", workspace.keys + "/acme.key"])
    #expect(unnamed.status != 0)
    #expect(unnamed.output.contains("names no publisher"), "\(unnamed.output)")

    // A manifest that no longer matches the binary (one digest character changed) is not signed.
    let named = try await workspace.carbonhub(["plugin", "manifest", workspace.library, "--publisher", "acme"], marker: workspace.keys + "/m3")
    try #require(named.status == 0)
    let digest = try PluginManifest.parse(Data(contentsOf: URL(fileURLWithPath: workspace.manifestPath))).sha256
    let other = (digest.first == "0" ? "1" : "0") + digest.dropFirst()
    try workspace.editManifest(digest, other)
    let stale = try await workspace.carbonhub(["plugin", "sign", workspace.library, "--key", workspace.keys + "/acme.key"])
    #expect(stale.status != 0)
    #expect(stale.output.contains("describes sha256 \(other) but \(workspace.library) is \(digest): rewrite the manifest before signing"), "\(stale.output)")
    #expect(!FileManager.default.fileExists(atPath: workspace.signaturePath))
  }

  @Test func verifyAppliesTheDeploymentFilesTrustTable() async throws {
    let workspace = try await MarkerWorkspace("config")
    let publicKey = try String(contentsOfFile: workspace.keys + "/acme.pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    let config = workspace.keys + "/deployment.toml"
    try """
      [trust]
      require_signature = true
      [trust.publishers]
      acme = "\(publicKey)"
      """.write(toFile: config, atomically: true, encoding: .utf8)
    let unsigned = try await workspace.carbonhub(["plugin", "verify", workspace.library, "--config", config])
    #expect(unsigned.status == 1)
    #expect(unsigned.output.contains("is not signed"), "\(unsigned.output)")
    #expect(!workspace.markerExists)
    try await workspace.sign(with: "acme")
    let signed = try await workspace.carbonhub(["plugin", "verify", workspace.library, "--config", config])
    #expect(signed.status == 0, "\(signed.output)")
    #expect(workspace.markerExists)
  }
}

@Suite("Deployment trust policy and discovery")
struct DeploymentTrustTests {
  @Test func theRegistryAppliesTheDeploymentsTrustTable() async throws {
    let unsigned = try await MarkerWorkspace("registry-unsigned")
    let signed = try await MarkerWorkspace("registry-signed")
    try await signed.sign(with: "acme")
    // Both copies hold the same key pair names but different keys: trust the signed copy's acme.
    let publicKey = try String(contentsOfFile: signed.keys + "/acme.pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    let state = try TestEnvironment.temporaryDirectory("trust-state")
    let config = try DeploymentConfig.parse(
      toml: """
        [trust]
        require_signature = true
        [trust.publishers]
        acme = "\(publicKey)"
        [modules.constructor-marker]
        path = "\(signed.library)"
        [modules.unsigned]
        path = "\(unsigned.library)"
        """,
      defaults: .embeddedDefault(pluginDirectory: signed.directory, stateDirectory: state))
    let registry = await ModuleRegistry.load(config, logger: TestEnvironment.logger)
    #expect(registry.serving.map(\.name) == ["constructor-marker"])
    #expect(registry.module(named: "constructor-marker")?.metadata?.manifest == "manifest signed by 'acme'")
    guard case .failed(let reason) = registry.module(named: "unsigned")?.state else {
      Issue.record("the unsigned plugin must be refused")
      return
    }
    #expect(reason.contains("is not signed"), "\(reason)")
  }

  @Test func discoverySkipsSharedLibrariesThatAreNotPlugins() async throws {
    let directory = try TestEnvironment.temporaryDirectory("discover-elf")
    try TestEnvironment.copyPlugin("libgwp.so", to: directory)
    try FileManager.default.copyItem(
      atPath: try TestEnvironment.plugin("libno_entry.so", in: TestEnvironment.fixtureDirectory), toPath: directory + "/libhelper.so")
    try "not an ELF file".write(toFile: directory + "/libtext.so", atomically: true, encoding: .utf8)
    let config = DeploymentConfig.embeddedDefault(pluginDirectory: directory, stateDirectory: try TestEnvironment.temporaryDirectory("state"))
    let registry = await ModuleRegistry.load(config, logger: TestEnvironment.logger)
    #expect(registry.all.map(\.name) == ["gwp"], "non-plugins are skipped, not listed as failed")
    #expect(registry.serving.map(\.name) == ["gwp"])
  }

  @Test func theELFCheckTellsTheBuildsPluginsFromItsOtherLibraries() throws {
    for plugin in TestEnvironment.repositoryPlugins {
      #expect(ELFSymbols.isPlugin(path: try TestEnvironment.plugin(plugin.file)), "\(plugin.file)")
    }
    for fixture in ["libno_entry.so"] {
      #expect(!ELFSymbols.isPlugin(path: try TestEnvironment.plugin(fixture, in: TestEnvironment.fixtureDirectory)))
    }
    // SwiftPM builds GRDB's dynamic product next to the plugins; it must never be opened.
    let grdb = TestEnvironment.pluginDirectory + "/libGRDB-dynamic.so"
    if FileManager.default.fileExists(atPath: grdb) {
      #expect(ELFSymbols(path: grdb) != nil && !ELFSymbols.isPlugin(path: grdb))
    }
  }

  @Test func theBuildWritesCurrentManifestsForTheRepositorysPlugins() throws {
    for plugin in TestEnvironment.repositoryPlugins {
      let path = try TestEnvironment.plugin(plugin.file)
      #expect(
        FileManager.default.fileExists(atPath: path + ".manifest.json"),
        "\(path) has no manifest: scripts/test.sh writes them (scripts/write-manifests.sh)")
      let library = try PluginLibrary(path: path, trust: PluginTrustPolicy(requireManifest: true))
      #expect(library.manifestCheck == .unsigned(PluginManifest(describing: library)))
    }
  }
}

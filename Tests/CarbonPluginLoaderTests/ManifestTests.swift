import CarbonPluginLoader
import Foundation
import Testing

/// A manifest as `carbonhub plugin manifest --publisher acme` writes it for a two-method plugin.
private let digest = String(repeating: "ab", count: 32)
private func sample(publisher: String? = "acme", abi: UInt32 = 1) -> PluginManifest {
  PluginManifest(
    name: "gwp", version: "1.0.0", abiVersion: abi, sha256: digest,
    methods: [
      .init(path: "/carbon.examples.v1.Gwp/ToCo2e", serverStreaming: false),
      .init(path: "/carbon.examples.v1.Gwp/Batch", serverStreaming: true),
    ],
    publisher: publisher)
}

@Suite("Plugin manifest file")
struct PluginManifestTests {
  @Test func encodedManifestReadsBackAndUsesTheDocumentedKeys() throws {
    let manifest = sample()
    let bytes = manifest.encoded()
    #expect(try PluginManifest.parse(bytes) == manifest)
    let text = String(decoding: bytes, as: UTF8.self)
    for key in ["\"format\" : 1", "\"abi_version\" : 1", "\"server_streaming\" : true", "\"publisher\" : \"acme\"", "\"sha256\" : \"\(digest)\""] {
      #expect(text.contains(key), "\(key) in \(text)")
    }
    #expect(text.contains("/carbon.examples.v1.Gwp/ToCo2e"), "slashes are not escaped")
    #expect(text.hasSuffix("}\n"))
    #expect(PluginManifest.manifestPath(forLibrary: "/p/libgwp.so") == "/p/libgwp.so.manifest.json")
    #expect(PluginManifest.signaturePath(forLibrary: "/p/libgwp.so") == "/p/libgwp.so.manifest.sig")
  }

  @Test func anUppercaseDigestIsNormalised() throws {
    let text = String(decoding: sample().encoded(), as: UTF8.self).replacingOccurrences(of: digest, with: digest.uppercased())
    #expect(try PluginManifest.parse(Data(text.utf8)).sha256 == digest)
  }

  /// Each broken manifest is refused naming the field at fault.
  @Test(arguments: [
    ("not json", nil, "not valid JSON"),
    ("[1, 2]", nil, "must be a JSON object"),
    (#"{"format": 1, "version": "1", "abi_version": 1, "sha256": "\#(digest)", "methods": []}"#, "name", "is required"),
    (#"{"format": 2, "name": "x", "version": "1", "abi_version": 1, "sha256": "\#(digest)", "methods": []}"#, "format", "is 2; this host reads format 1"),
    (#"{"format": 1, "name": "x", "version": "1", "abi_version": "1", "sha256": "\#(digest)", "methods": []}"#, "abi_version", "must be an integer"),
    (#"{"format": 1, "name": "x", "version": "1", "abi_version": 1, "sha256": "abc", "methods": []}"#, "sha256", "must be 64 hexadecimal characters"),
    (#"{"format": 1, "name": "x", "version": "1", "abi_version": 1, "sha256": "\#(digest)", "methods": [], "publsher": "a"}"#, "publsher", "unknown key (allowed: abi_version, format, methods, name, publisher, sha256, version)"),
    (#"{"format": 1, "name": "x", "version": "1", "abi_version": 1, "sha256": "\#(digest)", "methods": [{"path": "/a.B/C", "server_streaming": false}, {"path": "/a.B/D", "server_streaming": "yes"}]}"#, "methods[1].server_streaming", "must be true or false"),
    (#"{"format": 1, "name": "x", "version": "1", "abi_version": 1, "sha256": "\#(digest)", "methods": [{"path": "/a.B/C"}]}"#, "methods[0].server_streaming", "is required"),
    (#"{"format": 1, "name": "x", "version": "1", "abi_version": 1, "sha256": "\#(digest)", "methods": [{"path": "a.B/C", "server_streaming": false}]}"#, "methods[0].path", "'a.B/C' is not /<package>.<Service>/<Method>"),
    (#"{"format": 1, "name": "x", "version": "1", "abi_version": 1, "sha256": "\#(digest)", "methods": [{"path": "/a.B/C", "server_streaming": false, "kind": 1}]}"#, "methods[0].kind", "unknown key (allowed: client_streaming, path, server_streaming)"),
  ] as [(String, String?, String)])
  func invalidManifestsNameTheField(text: String, field: String?, reason: String) {
    #expect(throws: ManifestError(field: field, reason: reason)) { try PluginManifest.parse(Data(text.utf8)) }
  }

  @Test func theFirstDifferenceWithTheLibraryIsReported() {
    let manifest = sample()
    let methods = [
      PluginMethod(path: "/carbon.examples.v1.Gwp/Batch", isServerStreaming: true),
      PluginMethod(path: "/carbon.examples.v1.Gwp/ToCo2e", isServerStreaming: false),
    ]
    #expect(manifest.difference(name: "gwp", version: "1.0.0", methods: methods) == nil, "method order does not matter")
    #expect(manifest.difference(name: "gwp2", version: "1.0.0", methods: methods)! == ("name", "gwp", "gwp2"))
    #expect(manifest.difference(name: "gwp", version: "1.0.1", methods: methods)! == ("version", "1.0.0", "1.0.1"))
    let unaryBatch = [methods[1], PluginMethod(path: "/carbon.examples.v1.Gwp/Batch", isServerStreaming: false)]
    #expect(
      manifest.difference(name: "gwp", version: "1.0.0", methods: unaryBatch)!
        == ("methods", "/carbon.examples.v1.Gwp/Batch (server streaming)", "/carbon.examples.v1.Gwp/Batch (unary)"))
    #expect(
      manifest.difference(name: "gwp", version: "1.0.0", methods: [methods[1]])!
        == ("methods", "/carbon.examples.v1.Gwp/Batch (server streaming)", "none"))
  }
}

@Suite("Trust policy: what is decided before dlopen")
struct TrustPolicyTests {
  let acme = PublisherSigningKey()
  let mallory = PublisherSigningKey()
  let path = "/plugins/libgwp.so"

  func check(
    _ policy: PluginTrustPolicy, manifest: PluginManifest? = sample(), bytes: Data? = nil, signedBy key: PublisherSigningKey? = nil,
    signature: String? = nil, sha256: String = digest
  ) throws(PluginLoadError) -> ManifestCheck {
    let manifestBytes = bytes ?? manifest?.encoded()
    let signatureText = signature ?? key.flatMap { key in manifestBytes.map { key.signature(for: $0) + "\n" } }
    return try policy.check(
      library: path, sha256: sha256, manifest: manifestBytes, signature: signatureText.map { Data($0.utf8) },
      hostABIVersion: 1)
  }

  var strict: PluginTrustPolicy { PluginTrustPolicy(requireSignature: true, trustedPublishers: ["acme": acme.publicKey]) }

  @Test func aSignatureByTheTrustedPublisherIsAccepted() throws {
    #expect(try check(strict, signedBy: acme) == .signed(sample(), publisher: "acme"))
    #expect(try check(PluginTrustPolicy(trustedPublishers: ["acme": acme.publicKey]), signedBy: acme) == .signed(sample(), publisher: "acme"))
  }

  @Test func withoutRequirementsAManifestIsOptionalButChecked() throws {
    #expect(try check(PluginTrustPolicy(), manifest: nil) == .none)
    #expect(try check(PluginTrustPolicy()) == .unsigned(sample()))
    let actual = String(repeating: "cd", count: 32)
    #expect(throws: PluginLoadError.binaryTampered(path: path, manifest: digest, actual: actual)) {
      try check(PluginTrustPolicy(), sha256: actual)
    }
    #expect(throws: PluginLoadError.manifestABIMismatch(path: path, manifest: 2, host: 1)) {
      try check(PluginTrustPolicy(), manifest: sample(abi: 2))
    }
    #expect(throws: PluginLoadError.invalidManifest(path: path + ".manifest.json", field: "sha256", reason: "is required")) {
      try check(PluginTrustPolicy(), bytes: Data(#"{"format": 1, "name": "x", "version": "1", "abi_version": 1, "methods": []}"#.utf8))
    }
  }

  @Test func aMissingManifestIsRefusedOnlyWhenRequired() {
    #expect(throws: PluginLoadError.manifestMissing(path: path, requirement: "trust.require_signature")) {
      try check(strict, manifest: nil)
    }
    #expect(throws: PluginLoadError.manifestMissing(path: path, requirement: "trust.require_manifest")) {
      try check(PluginTrustPolicy(requireManifest: true), manifest: nil)
    }
  }

  @Test func unsignedOrUntrustedIsRefusedUnderRequireSignature() throws {
    #expect(throws: PluginLoadError.unsigned(path: path)) { try check(strict) }
    var malloryManifest = sample(publisher: "mallory")
    #expect(throws: PluginLoadError.untrustedPublisher(path: path, publisher: "mallory", trusted: ["acme"])) {
      try check(strict, manifest: malloryManifest, signedBy: mallory)
    }
    malloryManifest.publisher = nil
    #expect(throws: PluginLoadError.untrustedPublisher(path: path, publisher: nil, trusted: ["acme"])) {
      try check(strict, manifest: malloryManifest, signedBy: mallory)
    }
    // Without the requirement an unverifiable signature is as good as none.
    #expect(try check(PluginTrustPolicy(trustedPublishers: ["acme": acme.publicKey]), manifest: sample(publisher: "mallory"), signedBy: mallory)
      == .unsigned(sample(publisher: "mallory")))
  }

  @Test func aBadSignatureIsRefusedEvenWhenNotRequired() throws {
    let lenient = PluginTrustPolicy(trustedPublishers: ["acme": acme.publicKey])
    let forged = PluginLoadError.invalidSignature(
      path: path, publisher: "acme", reason: "the manifest was changed after it was signed, or it was signed with another key")
    for policy in [strict, lenient] {
      // The manifest claims acme but mallory signed it.
      #expect(throws: forged) { try check(policy, signedBy: mallory) }
      // Signed by acme, then edited (one space more): the exact bytes are signed, nothing is canonicalised.
      let signed = sample().encoded()
      let edited = Data(String(decoding: signed, as: UTF8.self).replacingOccurrences(of: "\"gwp\"", with: "\"gwp\" ").utf8)
      #expect(throws: forged) { try check(policy, bytes: edited, signature: acme.signature(for: signed)) }
      #expect(throws: PluginLoadError.invalidSignature(path: path, publisher: "acme", reason: "the file is not the base64 of a 64-byte Ed25519 signature")) {
        try check(policy, signature: "not a signature")
      }
    }
  }

  @Test func theSignatureIsCheckedBeforeTheDigest() {
    // A manifest rewritten to describe a modified binary is a forged manifest, and says so.
    let actual = String(repeating: "cd", count: 32)
    var rewritten = sample()
    rewritten.sha256 = actual
    #expect(throws: PluginLoadError.invalidSignature(
      path: path, publisher: "acme", reason: "the manifest was changed after it was signed, or it was signed with another key")) {
      try check(strict, manifest: rewritten, signature: acme.signature(for: sample().encoded()), sha256: actual)
    }
    #expect(throws: PluginLoadError.binaryTampered(path: path, manifest: digest, actual: actual)) {
      try check(strict, signedBy: acme, sha256: actual)
    }
  }

  @Test func refusalsExplainThemselvesToAnAdmin() {
    let messages = [
      PluginLoadError.unsigned(path: path).description,
      PluginLoadError.untrustedPublisher(path: path, publisher: "mallory", trusted: ["acme"]).description,
      PluginLoadError.manifestABIMismatch(path: path, manifest: 2, host: 1).description,
      PluginLoadError.binaryTampered(path: path, manifest: digest, actual: "cd").description,
      PluginLoadError.manifestMismatch(path: path, field: "version", manifest: "1.0.0", library: "1.0.1").description,
    ]
    #expect(messages[0].contains("is not signed (no /plugins/libgwp.so.manifest.sig)") && messages[0].contains("carbonhub plugin sign"))
    #expect(messages[1].contains("publisher 'mallory', which this deployment does not trust (trusted: acme)"))
    #expect(messages[2].contains("manifest says plugin ABI version 2 but this host speaks version 1") && messages[2].contains("rebuild"))
    #expect(messages[3].contains("the manifest says sha256 \(digest), the file is cd"))
    #expect(messages[4].contains("version: manifest says 1.0.0, library declares 1.0.1"))
    #expect(Set(messages).count == messages.count)
  }
}

@Suite("Publisher keys")
struct PublisherKeyTests {
  @Test func keysRoundTripThroughTheirFileText() throws {
    let key = PublisherSigningKey()
    let reread = try PublisherSigningKey(base64: key.base64 + "\n")
    #expect(reread.publicKey == key.publicKey)
    #expect(try PublisherKey(base64: " \(key.publicKey.base64)\n") == key.publicKey)
    let manifest = Data("exact bytes".utf8)
    let signature = try #require(Data(base64Encoded: key.signature(for: manifest)))
    #expect(signature.count == 64)
    #expect(key.publicKey.isValidSignature(signature, for: manifest))
    #expect(!PublisherSigningKey().publicKey.isValidSignature(signature, for: manifest))
  }

  @Test func malformedKeysAreRefusedWithTheReason() {
    #expect(throws: PublisherKey.KeyError(reason: "is not base64")) { try PublisherKey(base64: "not base64!") }
    #expect(throws: PublisherKey.KeyError(reason: "is 31 bytes; an Ed25519 public key is 32")) {
      try PublisherKey(base64: Data(repeating: 7, count: 31).base64EncodedString())
    }
    #expect(throws: PublisherKey.KeyError(reason: "is 64 bytes; an Ed25519 private key is 32")) {
      try PublisherSigningKey(base64: Data(repeating: 7, count: 64).base64EncodedString())
    }
  }
}

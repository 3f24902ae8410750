import ArgumentParser
import CarbonHost
import CarbonPluginLoader
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

extension CarbonHub {
  /// `carbonhub plugin …`: publisher keys, manifests and signatures of plugin libraries.
  struct PluginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "plugin",
      abstract: "Write, sign and check plugin manifests.",
      discussion: """
        A plugin's manifest (<lib>.manifest.json) records its name, version, ABI version, methods
        and the SHA-256 of the binary; its detached signature (<lib>.manifest.sig) is an Ed25519
        signature of the manifest's exact bytes by a publisher key. The host checks both before
        dlopen: see the deployment file's [trust] table.
        """,
      subcommands: [Keygen.self, Manifest.self, Sign.self, Check.self, New.self])
  }
}

extension CarbonHub.PluginCommand {
  /// `carbonhub plugin keygen --out NAME`.
  struct Keygen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Create a publisher key pair: NAME.key (private, mode 0600) and NAME.pub (base64 public key).")

    @Option(name: .long, help: "Path prefix of the key files (NAME.key and NAME.pub).")
    var out: String

    func run() async throws {
      let key = PublisherSigningKey()
      let privatePath = out + ".key"
      let publicPath = out + ".pub"
      for path in [privatePath, publicPath] where FileManager.default.fileExists(atPath: path) {
        throw ValidationError("\(path) exists: refusing to overwrite a key")
      }
      // O_EXCL with mode 0600 from the start: the private key is never readable by others, not
      // even between a write and a chmod.
      try writeNew(privatePath, key.base64 + "\n", mode: 0o600)
      try writeNew(publicPath, key.publicKey.base64 + "\n", mode: 0o644)
      let name = URL(fileURLWithPath: out).lastPathComponent
      printOut(
        """
        wrote \(privatePath) (private: keep it secret) and \(publicPath)
        a deployment trusts it with:
        [trust.publishers]
        \(name) = "\(key.publicKey.base64)"
        """)
    }
  }

  /// `carbonhub plugin manifest LIB... [--publisher NAME] [--only-plugins]`.
  struct Manifest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write <lib>.manifest.json for plugin libraries (a build step for binaries you trust).",
      discussion: """
        Opens each library with the loader (its code runs: only run this on binaries you built or
        trust) to read its name, version and methods, and writes the manifest with the SHA-256 of
        the file. A signature left from an earlier manifest is removed: it no longer matches.
        """)

    @Argument(help: "Plugin libraries (.so).")
    var libraries: [String]

    @Option(name: .long, help: "Publisher whose key will sign the manifest (a key name of [trust.publishers]).")
    var publisher: String?

    @Flag(name: .customLong("only-plugins"), help: "Skip files that do not export carbon_plugin_entry (read from the ELF file, not loaded).")
    var onlyPlugins = false

    func run() async throws {
      var failed = false
      for library in libraries {
        if onlyPlugins && !ELFSymbols.isPlugin(path: library) {
          printOut("skipped \(library): not a plugin (no exported carbon_plugin_entry)")
          continue
        }
        do {
          let opened = try PluginLibrary(path: library, trust: nil)
          let manifest = PluginManifest(describing: opened, publisher: publisher)
          let manifestPath = PluginManifest.manifestPath(forLibrary: opened.path)
          try write(manifestPath, manifest.encoded())
          let signaturePath = PluginManifest.signaturePath(forLibrary: opened.path)
          if FileManager.default.fileExists(atPath: signaturePath) {
            try FileManager.default.removeItem(atPath: signaturePath)
            printOut("removed \(signaturePath): it signed the previous manifest")
          }
          printOut("wrote \(manifestPath) (\(manifest.name) \(manifest.version), \(manifest.methods.count) methods)")
        } catch {
          printError("error: \(library): \(error)")
          failed = true
        }
      }
      if failed { throw ExitCode(1) }
    }
  }

  /// `carbonhub plugin sign LIB --key NAME.key`.
  struct Sign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Sign a plugin's manifest: writes <lib>.manifest.sig.",
      discussion: """
        Refuses a manifest that does not match the binary (rewrite it with `carbonhub plugin
        manifest`) or that names no publisher (a signature is verified with the key of the
        publisher the manifest names).
        """)

    @Argument(help: "Plugin library (.so) whose manifest to sign.")
    var library: String

    @Option(name: .long, help: "Private key file written by `carbonhub plugin keygen` (NAME.key).")
    var key: String

    func run() async throws {
      guard let keyText = try? String(contentsOfFile: key, encoding: .utf8) else {
        throw ValidationError("cannot read the key file \(key)")
      }
      let signingKey: PublisherSigningKey
      do {
        signingKey = try PublisherSigningKey(base64: keyText)
      } catch {
        throw ValidationError("\(key): \(error)")
      }
      let manifestPath = PluginManifest.manifestPath(forLibrary: library)
      guard let bytes = FileManager.default.contents(atPath: manifestPath) else {
        throw ValidationError("\(manifestPath): no manifest: write it first with `carbonhub plugin manifest \(library) --publisher NAME`")
      }
      let manifest: PluginManifest
      do {
        manifest = try PluginManifest.parse(bytes)
      } catch {
        throw ValidationError("\(manifestPath): invalid manifest: \(error)")
      }
      guard let publisher = manifest.publisher else {
        throw ValidationError("\(manifestPath) names no publisher: rewrite it with `carbonhub plugin manifest \(library) --publisher NAME`")
      }
      guard let digest = PluginLibrary.sha256(ofFileAt: library) else {
        throw ValidationError("cannot read \(library)")
      }
      guard digest == manifest.sha256 else {
        throw ValidationError(
          "\(manifestPath) describes sha256 \(manifest.sha256) but \(library) is \(digest): rewrite the manifest before signing")
      }
      let signaturePath = PluginManifest.signaturePath(forLibrary: library)
      try write(signaturePath, Data((signingKey.signature(for: bytes) + "\n").utf8))
      printOut("wrote \(signaturePath) (publisher '\(publisher)', public key \(signingKey.publicKey.base64))")
    }
  }

  /// `carbonhub plugin verify LIB [--trust NAME=PUBKEY ...] [--require-signature]`.
  struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "verify",
      abstract: "Load a plugin as the host would under a trust policy; print OK or the refusal.",
      discussion: """
        Exit status 0 and "OK …" when the host would load it, 1 and the host's refusal message
        otherwise. The policy comes from --config (the deployment file's [trust] table) and/or
        the flags. The library's code runs only if every check before dlopen passes.
        """)

    @Argument(help: "Plugin library (.so).")
    var library: String

    @Option(name: .long, help: "A trusted publisher: NAME=BASE64_PUBLIC_KEY or NAME=PATH.pub (repeatable).")
    var trust: [String] = []

    @Flag(name: .customLong("require-signature"), help: "Refuse a plugin without a valid signature by a trusted publisher.")
    var requireSignature = false

    @Flag(name: .customLong("require-manifest"), help: "Refuse a plugin without a manifest.")
    var requireManifest = false

    @Option(name: .long, help: "Deployment file (TOML) whose [trust] table to apply.")
    var config: String?

    @Option(name: .long, help: "Expected SHA-256 of the library (the deployment's pin).")
    var sha256: String?

    @Flag(name: .customLong("allow-symlinks"), help: "Accept a library path that is a symbolic link (trust.allow_symlinks).")
    var allowSymlinks = false

    func run() async throws {
      var policy = PluginTrustPolicy()
      if let config {
        guard let text = try? String(contentsOfFile: config, encoding: .utf8) else {
          throw ValidationError("cannot read the deployment file \(config)")
        }
        do {
          policy = try DeploymentConfig.parse(toml: text, defaults: .embeddedDefault(pluginDirectory: ".", stateDirectory: ".")).trust
        } catch {
          throw ValidationError("\(config): \(error)")
        }
      }
      if requireSignature { policy.requireSignature = true }
      if requireManifest { policy.requireManifest = true }
      if allowSymlinks { policy.allowSymlinks = true }
      for entry in trust {
        guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
          throw ValidationError("--trust \(entry): expected NAME=PUBLIC_KEY")
        }
        let name = String(entry[..<equals])
        var keyText = String(entry[entry.index(after: equals)...])
        if keyText.hasSuffix(".pub"), let file = try? String(contentsOfFile: keyText, encoding: .utf8) { keyText = file }
        do {
          policy.trustedPublishers[name] = try PublisherKey(base64: keyText)
        } catch {
          throw ValidationError("--trust \(name): the public key \(error)")
        }
      }
      do {
        let loaded = try PluginLibrary(path: library, expectedSHA256: sha256, trust: policy)
        printOut(
          "OK \(loaded.path): \(loaded.name) \(loaded.version), ABI \(loaded.abiVersion), \(loaded.methods.count) methods, "
            + "sha256 \(loaded.sha256), \(loaded.manifestCheck)")
      } catch {
        printError("refused: \(error)")
        throw ExitCode(1)
      }
    }
  }
}

/// Replaces a file atomically with mode 0644: the loader refuses sidecar files writable by
/// group or others, whatever the umask.
private func write(_ path: String, _ data: Data) throws {
  try data.write(to: URL(fileURLWithPath: path), options: .atomic)
  try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
}

/// Creates a file that must not exist yet, with its final mode from the start.
private func writeNew(_ path: String, _ text: String, mode: mode_t) throws {
  do {
    try NewFile.create(path, text, mode: mode)
  } catch {
    throw ValidationError(error.description)
  }
}

import CarbonHost
import CarbonPluginLoader
import Foundation
import Testing

/// Where a plugin may be loaded from (issue 26, point 1): the real path, symbolic links, the
/// owner and mode of the file and of every directory above it, and the manifest a deployment
/// requires of an unpinned plugin.
///
/// Each refusal is proved with the constructor-marker fixture in a child process
/// (`carbonhub plugin verify`): the fixture's constructor writes the marker file as soon as the
/// library is mapped, so a marker absent after a refusal proves no plugin code ran. Each test
/// also shows the same library loading once the defect is removed, so the marker mechanism is
/// known to work in that very layout.
@Suite("Loader: where a plugin may be loaded from", .serialized)
struct LocationLoaderTests {
  /// What a `carbonhub plugin verify` run found.
  struct Verdict {
    let status: Int32
    let output: String
    /// The fixture's constructor ran (its marker file exists).
    let codeRan: Bool
  }

  /// `carbonhub plugin verify LIBRARY OPTIONS…` with a fresh marker file.
  func verify(_ library: String, _ options: [String] = []) async throws -> Verdict {
    let marker = try TestEnvironment.temporaryDirectory("marker") + "/marker"
    let run = try await runProcess(
      try TestEnvironment.plugin("carbonhub"), ["plugin", "verify", library] + options,
      environment: ["CARBONHUB_MARKER_FILE": marker], timeout: 120)
    return Verdict(status: run.status, output: run.output, codeRan: FileManager.default.fileExists(atPath: marker))
  }

  /// A directory with exactly `mode` (the umask does not apply).
  func makeDirectory(_ path: String, mode: Int) throws -> String {
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    return path
  }

  /// A copy of the constructor-marker fixture in `directory`, with `mode`.
  func placeMarkerPlugin(in directory: String, as file: String = "libconstructor_marker.so", mode: Int = 0o755) throws -> String {
    let path = directory + "/" + file
    try FileManager.default.copyItem(
      atPath: try TestEnvironment.plugin("libconstructor_marker.so", in: TestEnvironment.fixtureDirectory), toPath: path)
    try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    return path
  }

  static var isRoot: Bool { geteuid() == 0 }

  // Issue 26, 1(a): "a plugin path that is a symlink into a world-writable directory".
  @Test func aSymbolicLinkIsRefusedUnlessAllowedAndItsTargetIsCheckedEitherWay() async throws {
    let base = try TestEnvironment.temporaryDirectory("symlink")
    let open = try makeDirectory(base + "/open", mode: 0o777)
    let planted = try placeMarkerPlugin(in: open)
    let link = base + "/libplugin.so"
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: planted)

    let refused = try await verify(link)
    #expect(refused.status == 1 && refused.output.contains("\(link) is a symbolic link"), "\(refused.output)")
    #expect(!refused.codeRan, "no plugin code may run before the refusal")

    let followed = try await verify(link, ["--allow-symlinks"])
    #expect(followed.status == 1, "\(followed.output)")
    #expect(followed.output.contains("\(open) is writable by group or others (mode 777)"), "\(followed.output)")
    #expect(!followed.codeRan)

    // The same link to a library in a safe directory loads once symbolic links are allowed.
    let safe = try makeDirectory(base + "/safe", mode: 0o755)
    let good = base + "/libgood.so"
    try FileManager.default.createSymbolicLink(atPath: good, withDestinationPath: try placeMarkerPlugin(in: safe))
    let loaded = try await verify(good, ["--allow-symlinks"])
    #expect(loaded.status == 0 && loaded.output.contains("OK \(safe)/libconstructor_marker.so"), "\(loaded.output)")
    #expect(loaded.codeRan, "the marker proves the fixture's code runs when it is loaded")
  }

  // Issue 26, 1(b): "a world-writable grandparent directory".
  @Test func aWritableDirectoryAnywhereAboveThePluginIsRefused() async throws {
    let base = try TestEnvironment.temporaryDirectory("ancestor")
    let grandparent = try makeDirectory(base + "/shared", mode: 0o777)
    let parent = try makeDirectory(grandparent + "/plugins", mode: 0o755)
    let library = try placeMarkerPlugin(in: parent)

    let refused = try await verify(library)
    #expect(refused.status == 1, "\(refused.output)")
    #expect(refused.output.contains("\(grandparent) is writable by group or others (mode 777)"), "\(refused.output)")
    #expect(!refused.codeRan)
    for mode in [0o775, 0o757] {
      try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: grandparent)
      let groupOrOther = try await verify(library)
      #expect(groupOrOther.status == 1 && !groupOrOther.codeRan, "mode \(String(mode, radix: 8)): \(groupOrOther.output)")
    }

    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: grandparent)
    let loaded = try await verify(library)
    #expect(loaded.status == 0 && loaded.codeRan, "\(loaded.output)")
  }

  // Issue 26, 1: "a root-owned directory with the sticky bit, such as /tmp, is an acceptable ancestor".
  @Test(.enabled(if: LocationLoaderTests.isRoot, "needs root: a sticky directory must be root's to be accepted"))
  func aRootOwnedStickyDirectoryIsAnAcceptableAncestor() async throws {
    let base = try TestEnvironment.temporaryDirectory("sticky")
    let sticky = try makeDirectory(base + "/tmp", mode: 0o1777)
    let inside = try placeMarkerPlugin(in: sticky)
    let loaded = try await verify(inside)
    #expect(loaded.status == 0 && loaded.codeRan, "\(loaded.output)")
    // Without the sticky bit, the same directory lets anyone rename the plugin away: refused.
    try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: sticky)
    let refused = try await verify(inside)
    #expect(refused.status == 1 && !refused.codeRan, "\(refused.output)")
  }

  // Issue 26, 1(c): "a plugin file they own (mode 0644)".
  @Test(.enabled(if: LocationLoaderTests.isRoot, "needs root to give a file to another uid"))
  func aPluginOrDirectoryOwnedByAnotherUserIsRefusedEvenWhenNotWritable() async throws {
    let base = try TestEnvironment.temporaryDirectory("owner")
    let library = try placeMarkerPlugin(in: base, mode: 0o644)
    try FileManager.default.setAttributes([.ownerAccountID: 65534], ofItemAtPath: library)
    let refused = try await verify(library)
    #expect(refused.status == 1 && refused.output.contains("\(library) belongs to uid 65534"), "\(refused.output)")
    #expect(!refused.codeRan)

    let foreign = try makeDirectory(base + "/theirs", mode: 0o755)
    try FileManager.default.setAttributes([.ownerAccountID: 65534], ofItemAtPath: foreign)
    let inForeign = try placeMarkerPlugin(in: foreign)
    let refusedDirectory = try await verify(inForeign)
    #expect(refusedDirectory.output.contains("\(foreign) belongs to uid 65534"), "\(refusedDirectory.output)")
    #expect(refusedDirectory.status == 1 && !refusedDirectory.codeRan)

    try FileManager.default.setAttributes([.ownerAccountID: 0], ofItemAtPath: library)
    let loaded = try await verify(library)
    #expect(loaded.status == 0 && loaded.codeRan, "\(loaded.output)")
  }

  // Issue 26, 1: the assessment's second local uid, reproduced with `setpriv`.
  @Test(
    .enabled(
      if: LocationLoaderTests.isRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
      "needs root and setpriv to act as a second local user"))
  func aSecondLocalUserCannotGetCodeRunByTheHost() async throws {
    let base = try TestEnvironment.temporaryDirectory("second-uid")
    let drop = try makeDirectory(base + "/drop", mode: 0o777)
    let fixture = try TestEnvironment.plugin("libconstructor_marker.so", in: TestEnvironment.fixtureDirectory)
    func asNobody(_ arguments: [String]) async throws {
      let run = try await runProcess("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups"] + arguments)
      try #require(run.status == 0, "setpriv \(arguments): \(run.output)")
    }
    // Their own file, mode 0644, in a world-writable directory; their own directory with a
    // correct mode inside it; a symbolic link of theirs to a root-owned plugin.
    try await asNobody(["/bin/cp", fixture, drop + "/libevil.so"])
    try await asNobody(["/bin/chmod", "0644", drop + "/libevil.so"])
    try await asNobody(["/bin/mkdir", "-m", "0755", drop + "/mine"])
    try await asNobody(["/bin/cp", fixture, drop + "/mine/libevil.so"])
    try await asNobody(["/bin/chmod", "0644", drop + "/mine/libevil.so"])
    for library in [drop + "/libevil.so", drop + "/mine/libevil.so"] {
      for options in [[], ["--allow-symlinks"], ["--sha256", try #require(PluginLibrary.sha256(ofFileAt: library))]] {
        let refused = try await verify(library, options)
        #expect(refused.status == 1 && refused.output.contains("refused:"), "\(library) \(options): \(refused.output)")
        #expect(!refused.codeRan, "\(library) \(options): the second user's code ran in the host")
      }
    }
  }

  // Issue 26, 1: "deleting a manifest also passes, since a missing manifest is accepted by
  // default" → "manifests required by default for every plugin the deployment does not pin".
  @Test func aDeletedManifestIsRefusedUnderTheDeploymentDefaultUnlessThePluginIsPinned() async throws {
    let base = try TestEnvironment.temporaryDirectory("no-manifest")
    let library = try placeMarkerPlugin(in: base)
    let deployment = base + "/deployment.toml"
    try "# the defaults\n".write(toFile: deployment, atomically: true, encoding: .utf8)
    let written = try await runProcess(try TestEnvironment.plugin("carbonhub"), ["plugin", "manifest", library])
    try #require(written.status == 0, "\(written.output)")
    let withManifest = try await verify(library, ["--config", deployment])
    #expect(withManifest.status == 0 && withManifest.output.contains("manifest, unsigned"), "\(withManifest.output)")

    try FileManager.default.removeItem(atPath: library + ".manifest.json")
    let refused = try await verify(library, ["--config", deployment])
    #expect(refused.status == 1 && refused.output.contains("has no manifest"), "\(refused.output)")
    #expect(refused.output.contains("trust.require_manifest"), "\(refused.output)")
    #expect(!refused.codeRan)

    let pin = try #require(PluginLibrary.sha256(ofFileAt: library))
    let pinned = try await verify(library, ["--config", deployment, "--sha256", pin])
    #expect(pinned.status == 0 && pinned.output.contains("no manifest") && pinned.codeRan, "a pin says more than a manifest: \(pinned.output)")

    try "[trust]\nrequire_manifest = false\n".write(toFile: deployment, atomically: true, encoding: .utf8)
    let optedOut = try await verify(library, ["--config", deployment])
    #expect(optedOut.status == 0, "a deployment may still opt out explicitly: \(optedOut.output)")
  }

  // A manifest is only as trustworthy as its location: one planted by another user vouches for nothing.
  @Test(.enabled(if: LocationLoaderTests.isRoot, "needs root to give a file to another uid"))
  func aManifestOwnedByAnotherUserIsRefused() async throws {
    let base = try TestEnvironment.temporaryDirectory("foreign-manifest")
    let library = try placeMarkerPlugin(in: base)
    let written = try await runProcess(try TestEnvironment.plugin("carbonhub"), ["plugin", "manifest", library])
    try #require(written.status == 0, "\(written.output)")
    try FileManager.default.setAttributes([.ownerAccountID: 65534], ofItemAtPath: library + ".manifest.json")
    let refused = try await verify(library)
    #expect(refused.status == 1 && refused.output.contains("manifest.json belongs to uid 65534"), "\(refused.output)")
    #expect(!refused.codeRan)
  }

  @Test func theDeploymentDefaultRequiresManifestsAndRefusesSymbolicLinks() async throws {
    let config = DeploymentConfig.embeddedDefault(pluginDirectory: "/p", stateDirectory: "/s")
    #expect(config.trust == PluginTrustPolicy.deploymentDefault)
    #expect(config.trust.requireManifest && !config.trust.allowSymlinks && !config.trust.requireSignature)

    // In a host: an unpinned copy without its manifest fails, the same bytes pinned serve.
    let directory = try TestEnvironment.temporaryDirectory("registry-manifest")
    try FileManager.default.copyItem(atPath: try TestEnvironment.plugin("libgwp.so"), toPath: directory + "/libgwp.so")
    var deployment = DeploymentConfig(pluginDirectory: directory, stateDirectory: try TestEnvironment.temporaryDirectory("state"))
    deployment.modules = [.init(name: "gwp", path: "libgwp.so")]
    let unpinned = await ModuleRegistry.load(deployment, logger: TestEnvironment.logger)
    guard case .failed(let reason) = unpinned.module(named: "gwp")?.state else {
      Issue.record("an unpinned plugin without a manifest must be refused")
      return
    }
    #expect(reason.contains("has no manifest") && reason.contains("trust.require_manifest"), "\(reason)")
    deployment.modules[0].sha256 = PluginLibrary.sha256(ofFileAt: directory + "/libgwp.so")
    #expect(await ModuleRegistry.load(deployment, logger: TestEnvironment.logger).serving.map(\.name) == ["gwp"])
  }
}

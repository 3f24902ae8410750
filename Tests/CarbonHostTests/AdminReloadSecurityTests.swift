import CarbonPluginLoader
import Foundation
import Testing

/// What an admin's `reload` may load (issue 26, point 2), against a real `carbonhub serve`
/// process administered from the command line, with the constructor-marker fixture proving
/// which refusals come before any plugin code runs.
@Suite("Admin reload: only checked plugins from plugin_dir, and no crash when a loaded file is rewritten", .serialized)
struct AdminReloadSecurityTests {
  func carbonhub(_ arguments: [String]) async throws -> (status: Int32, output: String) {
    try await runProcess(CommandLineTests.executable, arguments, timeout: 60)
  }

  @Test func reloadRefusesPathsOutsidePluginDirKeepsThePinChecksBeforeDlopenAndSurvivesAnInPlaceCopy() async throws {
    let base = try TestEnvironment.temporaryDirectory("admin-reload")
    let plugins = base + "/plugins"
    let outside = base + "/outside"
    for directory in [plugins, outside] {
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
    }
    let fixtures = TestEnvironment.fixtureDirectory
    let gwp = try TestEnvironment.copyPlugin("libgwp.so", to: plugins)
    try TestEnvironment.copyPlugin("libgwp.so", to: outside)
    try TestEnvironment.copyPlugin("libsleepy.so", from: fixtures, to: plugins)
    try FileManager.default.createSymbolicLink(atPath: plugins + "/libescape.so", withDestinationPath: outside + "/libgwp.so")
    // The marker plugin, without a manifest: what an admin (or a stolen admin key) might point
    // a reload at, like a system library.
    let markerPlugin = plugins + "/libconstructor_marker.so"
    try FileManager.default.copyItem(
      atPath: try TestEnvironment.plugin("libconstructor_marker.so", in: fixtures), toPath: markerPlugin)
    // A valid gwp build with other bytes (one byte of gcc's .comment changed) and its manifest.
    var bytes = try Data(contentsOf: URL(fileURLWithPath: gwp))
    let comment = try #require(bytes.firstRange(of: Data("GCC: (".utf8)), "libgwp.so carries gcc's .comment")
    bytes[comment.lowerBound] = UInt8(ascii: "g")
    let modified = plugins + "/libgwp-modified.so"
    try bytes.write(to: URL(fileURLWithPath: modified))
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: modified)
    let manifest = try await carbonhub(["plugin", "manifest", modified])
    try #require(manifest.status == 0, "\(manifest.output)")
    let pin = try #require(PluginLibrary.sha256(ofFileAt: gwp))
    let modifiedDigest = try #require(PluginLibrary.sha256(ofFileAt: modified))

    let tls = base + "/tls"
    try #require(try await carbonhub(["certs", "init", "--dir", tls]).status == 0)
    try #require(try await carbonhub(["certs", "client", "--dir", tls, "--name", "ops"]).status == 0)
    let file = base + "/deployment.toml"
    try """
      plugin_dir = "\(plugins)"
      [tls]
      certificate = "\(tls)/server.pem"
      key = "\(tls)/server-key.pem"
      [access]
      client_ca = "\(tls)/ca.pem"
      admins = ["ops"]
      [modules.gwp]
      path = "libgwp.so"
      sha256 = "\(pin)"
      [modules.sleepy]
      path = "libsleepy.so"
      """.write(toFile: file, atomically: true, encoding: .utf8)
    let marker = base + "/marker"
    let server = try await CommandLineTests.ServeProcess(arguments: ["--config", file], environment: ["CARBONHUB_MARKER_FILE": marker])
    defer { server.stop() }
    let ops = [
      "--server", server.address, "--ca", tls + "/ca.pem", "--cert", "\(tls)/clients/ops.pem", "--key", "\(tls)/clients/ops-key.pem",
    ]
    let request = TestEnvironment.repositoryRoot + "/Plugins/examples/gwp-c/examples/ToCo2e.json"
    func callGwp() async throws -> (status: Int32, output: String) { try await carbonhub(["call", "gwp.ToCo2e", "--json", request] + ops) }
    func reload(_ module: String, _ options: [String]) async throws -> (status: Int32, output: String) {
      try await carbonhub(["admin", "reload", module] + options + ops)
    }
    let before = try await callGwp()
    #expect(before.status == 0, "\(before.output)\n\(server.output)")

    // "a path outside plugin_dir is refused", also through a symbolic link inside it.
    for path in [outside + "/libgwp.so", "libescape.so", "../outside/libgwp.so"] {
      let refused = try await reload("gwp", ["--path", path])
      #expect(refused.status == 1 && refused.output.contains("outside the deployment's plugin_dir"), "\(path): \(refused.output)")
    }
    // "the deployment's sha256 pin also applies to reload --path".
    let unpinned = try await reload("gwp", ["--path", "libgwp-modified.so"])
    #expect(unpinned.status == 1 && unpinned.output.contains("sha256 mismatch: the deployment pins \(pin)"), "\(unpinned.output)")
    let repinned = try await reload("gwp", ["--path", "libgwp-modified.so", "--sha256", modifiedDigest])
    #expect(repinned.status == 1 && repinned.output.contains("cannot change the pin"), "\(repinned.output)")
    // "the library is checked before dlopen": no manifest, no code run.
    let unchecked = try await reload("sleepy", ["--path", "libconstructor_marker.so"])
    #expect(unchecked.status == 1 && unchecked.output.contains("has no manifest"), "\(unchecked.output)")
    #expect(!FileManager.default.fileExists(atPath: marker), "the refused library's constructor ran in the host")

    // "replacing a loaded .so in place (cp, same inode) must not crash the host".
    let inode = try #require(FileManager.default.attributesOfItem(atPath: gwp)[.systemFileNumber] as? UInt64)
    let copy = try await runProcess("/bin/cp", [markerPlugin, gwp])
    try #require(copy.status == 0, "\(copy.output)")
    #expect(try FileManager.default.attributesOfItem(atPath: gwp)[.systemFileNumber] as? UInt64 == inode, "cp rewrote the same inode")
    for _ in 0..<3 {
      let after = try await callGwp()
      #expect(after.status == 0 && after.output == before.output, "\(after.output)\n\(server.output)")
    }
    #expect(server.process.isRunning, "the host survived: \(server.output)")
    // Reloading the rewritten file is refused by the pin; the loaded copy keeps serving.
    let rewritten = try await reload("gwp", [])
    #expect(rewritten.status == 1 && rewritten.output.contains("sha256 mismatch"), "\(rewritten.output)")
    #expect(try await callGwp().status == 0)
    #expect(!FileManager.default.fileExists(atPath: marker))
  }
}

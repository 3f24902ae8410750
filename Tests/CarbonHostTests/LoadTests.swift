import Foundation
import Testing

/// The short load test CI runs: `carbonhub serve` with every plugin of the build, driven by
/// `carbonhub load` on each module's main method over TLS from concurrent callers. The long
/// soak is `scripts/soak.sh` (docs/performance.md).
@Suite("load", .serialized)
struct LoadTests {
  @Test func everyModuleUnderConcurrentLoadWithoutErrorsOrRSSDrift() async throws {
    let server = try await CommandLineTests.ServeProcess(arguments: ["--plugins", TestEnvironment.pluginDirectory, "--log-level", "error"])
    defer { server.stop() }
    let run = try await runProcess(
      CommandLineTests.executable,
      [
        "load", "--server", server.address, "--state-dir", server.stateDirectory, "--examples", TestEnvironment.repositoryRoot,
        "--server-pid", String(server.process.processIdentifier), "--concurrency", "8", "--connections", "2",
        "--duration", "15", "--max-requests", "200000", "--warmup", "30", "--max-rss-drift", "10", "--json",
      ], timeout: 180)
    #expect(run.status == 0, "carbonhub load failed:\n\(run.output)")

    let jsonLine = try #require(run.output.split(separator: "\n").last { $0.hasPrefix("{") }, "no JSON summary in:\n\(run.output)")
    let summary = try #require(try JSONSerialization.jsonObject(with: Data(jsonLine.utf8)) as? [String: Any])
    #expect(summary["errors"] as? Int == 0)
    #expect((summary["calls"] as? Int ?? 0) > 100, "too few calls to say anything: \(jsonLine)")
    let drift = try #require(summary["server_rss_drift_pct"] as? Double, "the server's RSS was not read: \(jsonLine)")
    #expect(drift <= 10, "server RSS drift \(drift) %")
    // One target per module of the build (the manifests of the plugin directory), each called.
    let targets = try #require(summary["targets"] as? [[String: Any]])
    let labels = Set(targets.compactMap { $0["target"] as? String })
    let built = try Self.moduleNames(in: TestEnvironment.pluginDirectory)
    #expect(built.count >= 7, "the repository's seven plugins: \(built)")
    for module in built {
      #expect(labels.contains { $0.hasPrefix(module + ".") }, "\(module) not driven: \(labels.sorted())")
    }
    #expect(labels.contains("esca.ComputeBonus") && labels.contains("aldo.ComputeFlux"), "each module on its main method")
    for target in targets {
      #expect((target["ok"] as? Int ?? 0) > 0, "\(target)")
      // Percentiles from the latency histogram: positive, ordered, and within the call deadline.
      let p50 = target["p50_ms"] as? Double ?? 0
      let p99 = target["p99_ms"] as? Double ?? 0
      #expect(p50 > 0 && p50 <= p99 && p99 < 30_000, "\(target)")
    }
  }

  /// The module names of the plugins of `directory`, from their manifests.
  static func moduleNames(in directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".so.manifest.json") }.sorted()
      .map { file in
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))
        return try #require((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["name"] as? String, "\(file)")
      }
  }

  @Test func loadFailsOnErrorsAndNamesTheStatus() async throws {
    let server = try await CommandLineTests.ServeProcess(arguments: ["--plugins", TestEnvironment.pluginDirectory, "--log-level", "error"])
    defer { server.stop() }
    // A request the module refuses (negative mass), given without its .expect.json: every
    // call fails with INVALID_ARGUMENT.
    let bad = TestEnvironment.repositoryRoot + "/Plugins/examples/gwp-c/examples/ToCo2e.negative.json"
    let run = try await runProcess(
      CommandLineTests.executable,
      [
        "load", "--server", server.address, "--state-dir", server.stateDirectory, "--module", "gwp", "--request", "gwp.ToCo2e=\(bad)",
        "--duration", "2", "--max-requests", "50", "--warmup", "0",
      ], timeout: 60)
    #expect(run.status == 1, "\(run.output)")
    #expect(run.output.contains("errors by status: INVALID_ARGUMENT 50"), "\(run.output)")
    #expect(run.output.contains("50 calls failed"), "\(run.output)")
  }

  /// A server that never answers the load generator makes `carbonhub load` fail within its
  /// call deadline, naming the server, instead of waiting forever (seen in a hostile soak, where
  /// a host at its per-address limit left it without a usable connection); here a listener that
  /// accepts connections and never speaks. A port where nothing listens fails at once.
  @Test func loadFailsWhenTheServerNeverAnswers() async throws {
    let server = try await CommandLineTests.ServeProcess(arguments: ["--plugins", TestEnvironment.pluginDirectory, "--log-level", "error"])
    let stateDirectory = server.stateDirectory
    _ = await server.terminate()
    let portFile = stateDirectory + "/silent.port"
    let silent = Process()
    silent.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    silent.arguments = [
      "python3", "-c",
      """
      import socket, sys
      listener = socket.socket()
      listener.bind(("127.0.0.1", 0))
      listener.listen(64)
      open(sys.argv[1] + ".tmp", "w").write(str(listener.getsockname()[1]))
      import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
      held = []
      while True:
          held.append(listener.accept()[0])
      """,
      portFile,
    ]
    try silent.run()
    // SIGKILL: children of a process that runs a host inherit its ignored SIGTERM.
    defer { kill(silent.processIdentifier, SIGKILL) }
    try await waitUntil("the silent listener's port") { FileManager.default.fileExists(atPath: portFile) }
    let port = try String(contentsOfFile: portFile, encoding: .utf8)
    for (address, expected) in [
      ("127.0.0.1:\(port)", "127.0.0.1:\(port): no answer within --call-timeout 2.0 s"),
      ("127.0.0.1:1", "127.0.0.1:1: unavailable: Could not establish a connection"),
    ] {
      let started = ContinuousClock.now
      let run = try await runProcess(
        CommandLineTests.executable,
        ["load", "--server", address, "--state-dir", stateDirectory, "--call-timeout", "2", "--duration", "2"],
        timeout: 60)
      #expect(run.status != 0, "\(run.output)")
      #expect(run.output.contains(expected), "\(run.output)")
      #expect(started.duration(to: .now) < .seconds(30))
    }
  }
}

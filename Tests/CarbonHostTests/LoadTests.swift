import Foundation
import Testing

/// The short load test CI runs: `carbonhub serve` with every plugin of the build, driven by
/// `carbonhub load` on each module's main method over TLS from concurrent callers. The long
/// soak is `scripts/soak.sh` (docs/performance.md).
@Suite("load", .serialized)
struct LoadTests {
  @Test func everyModuleUnderConcurrentLoadWithoutErrorsOrRSSDrift() async throws {
    let server = try CommandLineTests.ServeProcess(arguments: ["--plugins", TestEnvironment.pluginDirectory, "--log-level", "error"])
    defer { _ = server.terminate() }
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
    // One target per module of the repository, each on its main method, each called.
    let targets = try #require(summary["targets"] as? [[String: Any]])
    let labels = Set(targets.compactMap { $0["target"] as? String })
    for expected in [
      "units.Convert", "gwp.ToCo2e", "esca.ComputeBonus", "sobac.EvaluateFarmProject", "aldo.ComputeFlux",
      "snbc.AssessTrajectory", "cop-vivier.QualifyProject",
    ] {
      #expect(labels.contains(expected), "\(expected) not driven: \(labels.sorted())")
    }
    for target in targets { #expect((target["ok"] as? Int ?? 0) > 0, "\(target)") }
  }

  @Test func loadFailsOnErrorsAndNamesTheStatus() async throws {
    let server = try CommandLineTests.ServeProcess(arguments: ["--plugins", TestEnvironment.pluginDirectory, "--log-level", "error"])
    defer { _ = server.terminate() }
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
}

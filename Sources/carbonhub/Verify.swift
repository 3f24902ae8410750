import ArgumentParser
import CarbonDomain
import CarbonPluginLoader
import Foundation

extension CarbonHub {
  struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Check that a plugin library honours the ABI contract.",
      discussion: """
        Loads the library as the host would and checks: ABI version and descriptor, the
        embedded descriptor set declares every method, init accepts the config, every method
        answers an empty request, invalid protobuf and JSON give INVALID_ARGUMENT, an unknown
        method gives UNIMPLEMENTED, sample requests succeed, 8 concurrent threads agree, and
        repeated calls do not grow the heap. With --samples, every example also runs and its
        answer is compared with its .expect.json. Exit code 1 when a check fails.
        """)

    @Argument(help: "Path of the plugin shared library (.so).")
    var plugin: String

    @Option(
      name: .long,
      help: "Directory of examples: <Method>[.<case>].json requests, each checked against its .expect.json (status, field, values).")
    var samples: String?

    @Option(name: .long, help: "JSON config given to init.")
    var config: String = "{}"

    @Option(name: .customLong("leak-calls"), help: "Calls per method in the heap-growth check.")
    var leakCalls: Int = 2000

    @Option(name: .customLong("concurrent-calls"), help: "Calls per thread (8 threads) in the concurrency check.")
    var concurrentCalls: Int = 50

    @Option(name: .long, help: "Also send this many mutated requests to each method (fuzzing).")
    var fuzz: Int = 0

    @Option(name: .customLong("fuzz-seed"), help: "Seed of the fuzzing generator (replays a run).")
    var fuzzSeed: UInt64 = 0x5EED

    @Option(
      name: .customLong("fuzz-save"),
      help: ArgumentHelp(
        "Keep fuzz inputs that got an undocumented status, took over 1 s, hung (20 s) or crashed, as DIR/<module>/<Method>/<kind>-<digest>.bin|json.",
        valueName: "DIR"))
    var fuzzSave: String?

    func run() async throws {
      if leakCalls > 0 { Self.restartWithoutThreadCaches() }
      var checker = ConformanceChecker(
        configJSON: config, concurrentCallsPerThread: concurrentCalls, leakCheckCalls: leakCalls,
        fuzzIterationsPerMethod: fuzz, fuzzSeed: fuzzSeed)
      checker.fuzzFindingsDirectory = fuzzSave
      if let samples {
        (checker.samples, checker.sampleStatuses) = try Self.loadSamples(samples, plugin: plugin)
        checker.fuzzSeeds = try Self.loadVariants(samples, plugin: plugin)
      }
      let report = await checker.check(path: plugin)
      printOut(report.description)
      var passed = report.passed
      if let samples { passed = try checkExamples(samples) && passed }
      if !passed { throw ExitCode(1) }
    }

    /// Runs every `<Method>[.<case>].json` of `directory` and compares the answer with its
    /// `.expect.json` (status, error field, values within tolerance), for a module in any
    /// language. False when one does not match.
    func checkExamples(_ directory: String) throws -> Bool {
      let library = try PluginLibrary(path: plugin)
      let data = FileManager.default.temporaryDirectory.appendingPathComponent("carbonhub-verify-\(UUID().uuidString)").path
      try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
      defer { try? FileManager.default.removeItem(atPath: data) }
      let instance = try library.makeInstance(configJSON: config, dataDirectory: data)
      let (cases, problems) = try ExampleCase.check(directory: directory, on: instance)
      if problems.isEmpty {
        printOut("ok    examples: \(cases) case\(cases == 1 ? "" : "s") of \(directory) answer as their .expect.json says")
        return true
      }
      printOut("FAIL  examples: \(problems.count) mismatch\(problems.count == 1 ? "" : "es") in \(cases) cases of \(directory)")
      for problem in problems { printOut("      \(problem)") }
      return false
    }

    /// The tunable that turns glibc's per-thread malloc caches off.
    static let noThreadCaches = "glibc.malloc.tcache_count=0"

    /// Runs this same command again with glibc's per-thread caches off, once.
    ///
    /// The heap-growth check reads `mallinfo2().uordblks`, which counts a chunk parked in a
    /// thread's cache (up to 7 per size class and thread) as in use. Dispatch's worker threads
    /// fill theirs as calls land on them, which read as a few kilobytes of growth on a plugin
    /// that leaks nothing (SOBAC: 11 520 bytes over 200 calls per method with the caches,
    /// 0 without). Tunables are read only at process start, hence the exec.
    static func restartWithoutThreadCaches() {
      #if os(Linux)
      let current = ProcessInfo.processInfo.environment["GLIBC_TUNABLES"] ?? ""
      guard !current.contains(noThreadCaches) else { return }
      setenv("GLIBC_TUNABLES", current.isEmpty ? noThreadCaches : current + ":" + noThreadCaches, 1)
      var arguments = CommandLine.arguments.map { strdup($0) }
      arguments.append(nil)
      execv("/proc/self/exe", &arguments)
      // exec failed (no /proc): go on with the caches on; the check is then a little noisier.
      #endif
    }

    /// Maps `<dir>/<Method>.json` files to the plugin's method paths by method name, with the
    /// status their `<Method>.expect.json` gives (default OK).
    static func loadSamples(_ directory: String, plugin: String) throws -> ([String: [UInt8]], [String: CarbonStatus]) {
      let library = try PluginLibrary(path: plugin)
      let firstSamples = try SampleRequests.load(directory: directory).filter { $0.variant == nil }
      let byMethod = Dictionary(firstSamples.map { ($0.method, $0) }, uniquingKeysWith: { first, _ in first })
      var samples: [String: [UInt8]] = [:]
      var statuses: [String: CarbonStatus] = [:]
      for method in library.methods {
        guard let sample = byMethod[method.name] else { continue }
        samples[method.path] = sample.json
        if sample.expectedStatus != .ok { statuses[method.path] = sample.expectedStatus }
      }
      return (samples, statuses)
    }

    /// The other sample requests (`<Method>.<variant>.json`) by method path: more shapes for
    /// the fuzzer to mutate.
    static func loadVariants(_ directory: String, plugin: String) throws -> [String: [[UInt8]]] {
      let paths = Dictionary(try PluginLibrary(path: plugin).methods.map { ($0.name, $0.path) }, uniquingKeysWith: { first, _ in first })
      var variants: [String: [[UInt8]]] = [:]
      for sample in try SampleRequests.load(directory: directory) where sample.variant != nil {
        if let path = paths[sample.method] { variants[path, default: []].append(sample.json) }
      }
      return variants
    }
  }
}

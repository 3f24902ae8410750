import CarbonDomain
import CarbonHost
import CarbonPluginLoader
import Foundation
import Synchronization
import Testing

@Suite("Loader: what is refused before and after dlopen")
struct LoaderTests {
  @Test func wrongABIVersionIsRefusedNamingBothVersions() throws {
    let path = try TestEnvironment.plugin("libwrong_abi.so", in: TestEnvironment.fixtureDirectory)
    #expect(throws: PluginLoadError.abiMismatch(path: path, plugin: 42, host: 1)) { try PluginLibrary(path: path) }
    let message = "\(PluginLoadError.abiMismatch(path: path, plugin: 42, host: 1))"
    #expect(message.contains("ABI version 42") && message.contains("speaks version 1"))
  }

  @Test func libraryWithoutEntrySymbolIsRefused() throws {
    let path = try TestEnvironment.plugin("libno_entry.so", in: TestEnvironment.fixtureDirectory)
    #expect(throws: PluginLoadError.missingEntrySymbol(path: path)) { try PluginLibrary(path: path) }
  }

  @Test func failingInitIsReportedWithThePluginsMessage() throws {
    let path = try TestEnvironment.plugin("libfailing_init.so", in: TestEnvironment.fixtureDirectory)
    let library = try PluginLibrary(path: path)
    do {
      _ = try library.makeInstance(configJSON: "{}", dataDirectory: NSTemporaryDirectory())
      Issue.record("expected init to fail")
    } catch {
      #expect(error == .initFailed(module: "failing-init", status: .failedPrecondition, message: "config.database_url: cannot reach the database (test fixture)"))
    }
  }

  @Test func missingFileIsRefused() {
    #expect(throws: PluginLoadError.fileNotFound(path: "/nonexistent/libx.so")) { try PluginLibrary(path: "/nonexistent/libx.so") }
  }

  @Test func digestMismatchIsRefusedBeforeLoading() throws {
    let directory = try TestEnvironment.temporaryDirectory("digest")
    let copy = directory + "/libgwp.so"
    try FileManager.default.copyItem(atPath: try TestEnvironment.plugin("libgwp.so"), toPath: copy)
    let good = try PluginLibrary(path: copy).sha256
    #expect(good.count == 64)
    #expect(try PluginLibrary(path: copy, expectedSHA256: good.uppercased()).name == "gwp", "the pin is case-insensitive")
    let wrong = String(repeating: "0", count: 64)
    #expect(throws: PluginLoadError.digestMismatch(path: copy, expected: wrong, actual: good)) {
      try PluginLibrary(path: copy, expectedSHA256: wrong)
    }
  }

  @Test func fileWritableByGroupOrOthersIsRefused() throws {
    let directory = try TestEnvironment.temporaryDirectory("perm")
    let copy = directory + "/libgwp.so"
    try FileManager.default.copyItem(atPath: try TestEnvironment.plugin("libgwp.so"), toPath: copy)
    for mode in [0o664, 0o646] {
      try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: copy)
      #expect(throws: PluginLoadError.unsafePermissions(path: copy, mode: UInt32(0o100000 | mode))) { try PluginLibrary(path: copy) }
    }
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: copy)
    #expect(try PluginLibrary(path: copy).name == "gwp")
  }

  @Test func directoryWritableByOthersIsRefused() throws {
    let directory = try TestEnvironment.temporaryDirectory("dirperm")
    let copy = directory + "/libgwp.so"
    try FileManager.default.copyItem(atPath: try TestEnvironment.plugin("libgwp.so"), toPath: copy)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: copy)
    try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: directory)
    do {
      _ = try PluginLibrary(path: copy)
      Issue.record("expected a refusal")
    } catch {
      guard case .unsafePermissions(let path, _) = error else {
        Issue.record("unexpected \(error)")
        return
      }
      #expect(path == directory)
    }
  }

  @Test func registryServesTheGoodModulesAndReportsTheOthers() async throws {
    let state = try TestEnvironment.temporaryDirectory("registry")
    var config = DeploymentConfig(pluginDirectory: TestEnvironment.pluginDirectory, stateDirectory: state)
    let fixtures = TestEnvironment.fixtureDirectory
    config.modules = [
      .init(name: "units", path: try TestEnvironment.plugin("libExampleUnits.so")),
      .init(name: "failing-init", path: try TestEnvironment.plugin("libfailing_init.so", in: fixtures)),
      // Pinned: a deployment requires no manifest of a plugin it pins, so the refusal comes
      // from the descriptor read after dlopen.
      .init(
        name: "wrong-abi", path: try TestEnvironment.plugin("libwrong_abi.so", in: fixtures),
        sha256: PluginLibrary.sha256(ofFileAt: try TestEnvironment.plugin("libwrong_abi.so", in: fixtures))),
      .init(name: "gwp", enabled: false, path: "libgwp.so"),
      .init(name: "renamed", path: try TestEnvironment.plugin("libgwp.so")),
    ]
    let registry = await ModuleRegistry.load(config, logger: TestEnvironment.logger)
    #expect(registry.serving.map(\.name) == ["units"])
    #expect(registry.module(named: "gwp")?.state == .disabled)
    guard case .failed(let initReason) = registry.module(named: "failing-init")?.state,
      case .failed(let abiReason) = registry.module(named: "wrong-abi")?.state,
      case .failed(let nameReason) = registry.module(named: "renamed")?.state
    else {
      Issue.record("expected three failed modules")
      return
    }
    #expect(initReason.contains("cannot reach the database"))
    #expect(abiReason.contains("ABI version 42"))
    #expect(nameReason.contains("declares 'gwp'"))
    #expect(registry.route("/carbon.examples.v1.Units/Convert")?.name == "units")
    #expect(FileManager.default.fileExists(atPath: state + "/modules/units"), "each module gets a private data directory")
  }

  /// Health's Watch promises "every change": a subscriber that reads only after a module was
  /// disabled and enabled again still sees both changes, in order (before, a slow reader got one
  /// coalesced "something changed" and re-read SERVING, missing the NOT_SERVING in between).
  @Test(.timeLimit(.minutes(5))) func aSlowSubscriberStillSeesEveryChangeInOrder() async throws {
    let directory = try TestEnvironment.temporaryDirectory("changes")
    try TestEnvironment.copyPlugin("libExampleUnits.so", to: directory)
    let config = DeploymentConfig.embeddedDefault(pluginDirectory: directory, stateDirectory: try TestEnvironment.temporaryDirectory("state"))
    let registry = await ModuleRegistry.load(config, logger: TestEnvironment.logger)
    let changes = registry.subscribeToChanges()
    defer { changes.end.finish() }
    #expect(changes.current.map { "\($0.name) \($0.state.isServing)" } == ["units true"])
    _ = try await registry.disable("units", by: .anonymous)
    _ = try await registry.enable("units", by: .anonymous)
    _ = try await registry.disable("units", by: .anonymous)
    var seen: [Bool] = []
    for await modules in changes.updates {
      let units = try #require(modules.first { $0.name == "units" })
      if seen.last != units.state.isServing { seen.append(units.state.isServing) }
      if seen == [false, true, false] { break }
    }
    #expect(seen == [false, true, false])
  }

  @Test func discoveryLoadsEverySharedLibraryOfTheDirectory() async throws {
    let directory = try TestEnvironment.temporaryDirectory("discover")
    for file in ["libgwp.so", "libExampleUnits.so"] {
      try TestEnvironment.copyPlugin(file, to: directory)
    }
    let config = DeploymentConfig.embeddedDefault(pluginDirectory: directory, stateDirectory: try TestEnvironment.temporaryDirectory("state"))
    let registry = await ModuleRegistry.load(config, logger: TestEnvironment.logger)
    #expect(registry.serving.map(\.name).sorted() == ["gwp", "units"])
  }
}

@Suite("Conformance checker")
struct ConformanceTests {
  /// Runs `carbonhub verify` on each plugin in its own process: the heap-growth check reads
  /// process-wide malloc statistics, which other tests running in parallel would disturb.
  @Test func everyPluginOfTheRepositoryIsConformant() async throws {
    let built = try FileManager.default.contentsOfDirectory(atPath: TestEnvironment.pluginDirectory).filter { $0.hasSuffix(".so") }
    // Dependencies may build shared libraries of their own (GRDB's libGRDB-dynamic.so): only
    // libraries exporting the entry symbol are plugins, read from the file without loading it.
    #expect(
      TestEnvironment.repositoryPlugins.count >= 7,
      "the repository's plugins are listed in \(TestEnvironment.pluginDirectory)/plugins.tsv (scripts/plugins.sh > plugins.tsv; scripts/test.sh writes it)")
    for file in built where ELFSymbols.isPlugin(path: TestEnvironment.pluginDirectory + "/" + file) {
      #expect(TestEnvironment.repositoryPlugins.contains { $0.file == file }, "\(file) is built but not checked: scripts/plugins.sh does not list it")
    }
    let carbonhub = try TestEnvironment.plugin("carbonhub")
    // Two plugins verify at a time, in separate processes: more would starve the other tests of
    // the machine's cores (CI has two). Waited for without holding a thread (see the async
    // `runProcess`).
    var results: [(String, Int32, String)] = []
    let plugins = TestEnvironment.repositoryPlugins
    try await withThrowingTaskGroup(of: (String, Int32, String).self) { group in
      var next = 0
      func startNext() {
        guard next < plugins.count else { return }
        let plugin = plugins[next]
        next += 1
        group.addTask {
          guard let path = try? TestEnvironment.plugin(plugin.file) else { return (plugin.file, -1, "not built") }
          let examples = TestEnvironment.repositoryRoot + "/" + plugin.examples
          let run = try? await runProcess(
            carbonhub, ["verify", path, "--samples", examples, "--fuzz", "100", "--leak-calls", "200", "--concurrent-calls", "5"],
            timeout: 600)
          return (plugin.file, run?.status ?? -1, run?.output ?? "could not run carbonhub verify")
        }
      }
      startNext()
      startNext()
      while let result = try await group.next() {
        results.append(result)
        startNext()
      }
    }
    #expect(results.count == plugins.count)
    for (file, status, output) in results {
      #expect(status == 0, "\(file): \(output)")
      #expect(output.contains("sample request"), "\(file) has no sample request: \(output)")
      #expect(output.contains("survives 100 mutated requests"), "\(file): \(output)")
    }
  }

  /// In a process of its own, as `carbonhub verify` runs: the check measures its process's main
  /// heap, which the other tests of this process (the suite runs in parallel) grow and shrink
  /// meanwhile — here their frees once hid the leak.
  @Test func aLeakingPluginIsCaught() async throws {
    let path = try TestEnvironment.plugin("libleaky.so", in: TestEnvironment.fixtureDirectory)
    let run = try await runProcess(try TestEnvironment.plugin("carbonhub"), ["verify", path, "--fuzz", "0", "--leak-calls", "300"])
    #expect(run.status != 0, "\(run.output)")
    let heapLine = run.output.split(separator: "\n").first { $0.contains("do not grow the heap") }
    #expect(heapLine?.contains("FAIL") == true, "\(run.output)")
  }

  @Test func aRefusedPluginIsNotConformant() async throws {
    let report = await ConformanceChecker().check(path: try TestEnvironment.plugin("libwrong_abi.so", in: TestEnvironment.fixtureDirectory))
    #expect(!report.passed)
  }
}

/// Issue 24, point 1: "the toolchain rule written where an integrator reads it, with a check at
/// load that refuses a Swift plugin built by another Swift runtime with a clear message", and
/// "only the entry symbol exported from plugins".
@Suite("Swift modules: one exported symbol, the host's toolchain only")
struct SwiftToolchainTests {
  @Test func productPluginsExportTheEntryAloneAndNameTheirToolchain() throws {
    let host = try #require(ELFSymbols.hostSwiftToolchain, "the test binary records its toolchain")
    #expect(host.contains("llvm-project"), "\(host)")
    for file in ["libESCA.so", "libSOBAC.so", "libALDO.so", "libSNBC.so", "libCOPVivier.so", "libExampleUnits.so"] {
      let symbols = try #require(ELFSymbols(path: try TestEnvironment.plugin(file)))
      #expect(symbols.exported == ["carbon_plugin_entry"], "\(file): \(symbols.exported.count) exported")
      #expect(symbols.importsSwiftRuntime && symbols.swiftToolchain == host, "\(file)")
      #expect(symbols.swiftToolchainMismatch() == nil)
    }
    let c = try #require(ELFSymbols(path: try TestEnvironment.plugin("libgwp.so")))
    #expect(!c.importsSwiftRuntime && c.swiftToolchainMismatch(host: "another") == nil, "the C ABI has no toolchain rule")
  }

  @Test func aSwiftModuleFromAnotherToolchainIsRefusedBeforeDlopen() throws {
    // libESCA.so with one hex digit of its toolchain's commit changed in `.comment`, as a build
    // by another release of the same compiler would carry.
    let directory = try TestEnvironment.temporaryDirectory("toolchain")
    let copy = directory + "/libESCA.so"
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try TestEnvironment.plugin("libESCA.so"))))
    let host = try #require(ELFSymbols.hostSwiftToolchain)
    let marker = Array(host.utf8)
    let at = try #require(bytes.firstRange(of: marker)).upperBound - 2
    bytes[at] = bytes[at] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
    try Data(bytes).write(to: URL(fileURLWithPath: copy))
    chmod(copy, 0o755)
    do {
      _ = try PluginLibrary(path: copy)
      Issue.record("a module of another toolchain was loaded")
    } catch {
      #expect("\(error)".contains("built by another Swift toolchain"), "\(error)")
      #expect("\(error)".contains("rebuild it with the host's toolchain"), "\(error)")
    }
  }
}

import CarbonDomain
import CarbonPluginLoader
import CarbonTestSupport
import Foundation
import Testing

/// Replays the fuzz regression corpus, `Tests/Fixtures/fuzz-corpus/<module>/<Method>/*.bin|json`
/// (inputs that found bugs, or that `carbonhub verify --fuzz N --fuzz-save DIR` kept), through
/// the plugin ABI: every input must get an answer within the time limit, OK or a documented
/// error status, never INTERNAL/UNKNOWN/DATA_LOSS, never a crash.
@Suite("fuzz regression corpus", .serialized, .cpuBound)
struct FuzzCorpusTests {
  static let corpus = TestEnvironment.repositoryRoot + "/Tests/Fixtures/fuzz-corpus"
  /// Longest accepted answer for one input (a debug build, on a loaded CI machine).
  static let timeLimit = 20.0

  struct Input: CustomTestStringConvertible, Sendable {
    let module: String
    let method: String
    let file: String
    var testDescription: String { "\(module)/\(method)/\(file)" }
  }

  static func inputs() -> [Input] {
    var inputs: [Input] = []
    let manager = FileManager.default
    for module in ((try? manager.contentsOfDirectory(atPath: corpus)) ?? []).sorted() {
      for method in ((try? manager.contentsOfDirectory(atPath: corpus + "/" + module)) ?? []).sorted() {
        for file in ((try? manager.contentsOfDirectory(atPath: "\(corpus)/\(module)/\(method)")) ?? []).sorted()
        where file.hasSuffix(".bin") || file.hasSuffix(".json") {
          inputs.append(Input(module: module, method: method, file: file))
        }
      }
    }
    return inputs
  }

  /// Every repository plugin by module name, one instance each.
  static let instances: [String: PluginInstance] = {
    var instances: [String: PluginInstance] = [:]
    for plugin in TestEnvironment.repositoryPlugins {
      guard let library = try? PluginLibrary(path: TestEnvironment.pluginDirectory + "/" + plugin.file),
        let data = try? TestEnvironment.temporaryDirectory("fuzz-\(library.name)"),
        let instance = try? library.makeInstance(configJSON: "{}", dataDirectory: data)
      else { continue }
      instances[library.name] = instance
    }
    return instances
  }()

  @Test func theCorpusCoversEveryModule() throws {
    let modules = Set(Self.inputs().map(\.module))
    for plugin in TestEnvironment.repositoryPlugins {
      _ = try TestEnvironment.plugin(plugin.file)
    }
    #expect(Self.instances.count == TestEnvironment.repositoryPlugins.count, "some plugins did not load")
    for module in Self.instances.keys.sorted() {
      #expect(modules.contains(module), "no fuzz corpus for module \(module) in \(Self.corpus)")
    }
    for module in modules {
      #expect(Self.instances[module] != nil, "\(Self.corpus)/\(module) names no plugin of the repository")
    }
  }

  @Test(arguments: inputs())
  func replay(_ input: Input) async throws {
    let instance = try #require(Self.instances[input.module], "no plugin for module \(input.module)")
    let method = try #require(
      instance.library.methods.first { $0.name == input.method }, "module \(input.module) has no method \(input.method)")
    let bytes = try #require(FileManager.default.contents(atPath: "\(Self.corpus)/\(input.module)/\(input.method)/\(input.file)"))
    let encoding: WireEncoding = input.file.hasSuffix(".json") ? .json : .protobuf

    // The call runs on its own thread and a timer races it: a hang fails this test without
    // blocking one of the test runner's (few) cooperative threads.
    let request = Array(bytes)
    let answer: (status: CarbonStatus, message: String)? = await withCheckedContinuation { (continuation: CheckedContinuation<(status: CarbonStatus, message: String)?, Never>) in
      let once = ResumeOnce(continuation)
      Thread.detachNewThread {
        do {
          _ = try instance.callCollecting(method, request: request, encoding: encoding)
          once.resume((.ok, ""))
        } catch let error as PluginCallError {
          once.resume((error.status, error.message))
        } catch {
          once.resume((.unknown, "\(error)"))
        }
      }
      DispatchQueue.global().asyncAfter(deadline: .now() + Self.timeLimit) { once.resume(nil) }
    }
    guard let (status, message) = answer else {
      Issue.record("\(input.testDescription): no answer after \(Self.timeLimit) s (hang)")
      return
    }
    #expect(
      ConformanceChecker.acceptableForFuzzedRequest.contains(status),
      "\(input.testDescription): \(status.name): \(message)")
  }
}

/// Resumes a continuation with the first of several racing answers.
private final class ResumeOnce: @unchecked Sendable {
  private let lock = NSLock()
  private var continuation: CheckedContinuation<(status: CarbonStatus, message: String)?, Never>?
  init(_ continuation: CheckedContinuation<(status: CarbonStatus, message: String)?, Never>) { self.continuation = continuation }
  func resume(_ value: (status: CarbonStatus, message: String)?) {
    let pending = lock.withLock { () -> CheckedContinuation<(status: CarbonStatus, message: String)?, Never>? in
      defer { continuation = nil }
      return continuation
    }
    pending?.resume(returning: value)
  }
}

import ArgumentParser
import CarbonDomain
import CarbonHost
import CarbonHostProtocol
import CarbonPluginLoader
import Foundation
import GRPCCore
import Histogram
import Synchronization
import SwiftProtobuf

extension CarbonHub {
  struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Drive every served module's main method over gRPC from concurrent callers; report calls/s, latency, errors and the server's memory drift.",
      discussion: """
        Each serving module is called on its main method (esca.ComputeBonus, sobac.EvaluateFarmProject...,
        else its first unary method with a sample) with the sample request of its examples/
        folder, encoded as protobuf with the descriptors the server's reflection gives, on the
        module's own gRPC route. --request module.Method=FILE replaces or adds a target
        (FILE.json: proto3 JSON, FILE.bin: protobuf bytes).

        The run stops at --duration seconds or --max-requests calls, whichever comes first,
        after --warmup calls per target that are not measured. With --server-pid, the server's
        RSS (/proc/PID/status) is read after the warm-up and at the end. Exit code 1 on any
        failed call (a sample answering its documented status counts as success) or an RSS
        drift above --max-rss-drift percent.
        """)

    @OptionGroup var client: ClientOptions

    @Option(name: .long, help: "Calls in flight at once.")
    var concurrency: Int = 16

    @Option(name: .long, help: "Client connections the callers share.")
    var connections: Int = 2

    @Option(name: .long, help: "Longest measured run, seconds.")
    var duration: Double = 30

    @Option(name: .customLong("max-requests"), help: "Most measured calls.")
    var maxRequests: Int = 1_000_000

    @Option(name: .long, help: "Unmeasured calls per target before the first RSS reading.")
    var warmup: Int = 50

    @Option(name: .customLong("request"), help: ArgumentHelp("A target: module.Method=FILE (.json or .bin), repeatable.", valueName: "module.Method=FILE"))
    var requests: [String] = []

    @Option(name: .long, help: "Only these modules (repeatable); default every serving module.")
    var module: [String] = []

    @Option(name: .long, help: "Repository checkout whose Plugins/**/examples hold the sample requests.")
    var examples: String = FileManager.default.currentDirectoryPath

    @Option(name: .customLong("server-pid"), help: "The server's process id, to read its RSS.")
    var serverPID: Int32?

    @Option(name: .customLong("max-rss-drift"), help: "Largest accepted growth of the server's RSS over the run, percent.")
    var maxRSSDrift: Double = 10

    @Option(name: .customLong("call-timeout"), help: "Deadline of each call, seconds: a call the server never answers (or a connection it refuses) counts as DEADLINE_EXCEEDED instead of waiting forever.")
    var callTimeout: Double = 30

    @Flag(name: .long, help: "Also print the results as one JSON object.")
    var json = false

    func validate() throws {
      guard concurrency > 0 else { throw ValidationError("--concurrency must be at least 1") }
      guard connections > 0 else { throw ValidationError("--connections must be at least 1") }
      guard duration > 0 else { throw ValidationError("--duration must be greater than 0") }
      guard maxRequests > 0 else { throw ValidationError("--max-requests must be at least 1") }
      guard maxRSSDrift >= 0 else { throw ValidationError("--max-rss-drift must be >= 0") }
      guard callTimeout > 0 else { throw ValidationError("--call-timeout must be greater than 0") }
    }

    func run() async throws {
      if let caFile = client.caFile, !FileManager.default.fileExists(atPath: caFile) {
        throw ValidationError("CA file \(caFile) not found: give --ca FILE or the server's --state-dir")
      }
      let clients = try (0..<connections).map { _ in
        GRPCClient(transport: try ClientTransportFactory.make(server: client.server, caFile: client.caFile))
      }
      let report = try await withThrowingTaskGroup(of: Void.self) { group in
        for grpc in clients { group.addTask { try await grpc.runConnections() } }
        defer { for grpc in clients { grpc.beginGracefulShutdown() } }
        let targets: [LoadTarget]
        do {
          targets = try await resolveTargets(clients[0])
        } catch let error as RPCError where error.code == .deadlineExceeded {
          throw ValidationError("\(client.server): no answer within --call-timeout \(callTimeout) s (is it serving, and does it accept this client's connections?)")
        } catch let error as RPCError {
          throw ValidationError("\(client.server): \(error.code): \(error.message)")
        }
        guard !targets.isEmpty else { throw ValidationError("no module to drive: none serving, or no sample request found") }
        let driver = LoadDriver(clients: clients, targets: targets, options: callOptions)
        _ = await driver.run(concurrency: concurrency, calls: warmup * targets.count, duration: .seconds(600))
        let before = serverPID.flatMap { ProcessMemory.read(pid: $0) }
        let measured = await driver.run(concurrency: concurrency, calls: maxRequests, duration: .milliseconds(Int(duration * 1000)))
        let after = serverPID.flatMap { ProcessMemory.read(pid: $0) }
        return LoadReport(targets: targets, run: measured, rssBefore: before, rssAfter: after, maxDrift: maxRSSDrift)
      }
      printOut(report.table)
      if json { printOut(report.json) }
      if !report.passed {
        printError("load: \(report.failures.joined(separator: "; "))")
        throw ExitCode(1)
      }
    }

    /// Every call's options: its deadline.
    private var callOptions: CallOptions {
      var options = CallOptions.defaults
      options.timeout = .milliseconds(Int(callTimeout * 1000))
      return options
    }

    /// One target per serving module (or per --request), with its protobuf request bytes.
    private func resolveTargets(_ grpc: GRPCClient<HostClientTransport>) async throws -> [LoadTarget] {
      let host = Carbon_Host_V1_Host.Client(wrapping: grpc)
      let modules = try await host.listModules(Carbon_Host_V1_ListModulesRequest(), options: callOptions).modules
        .filter { $0.state == .serving && (module.isEmpty || module.contains($0.name)) }
      var overrides: [String: String] = [:]
      for request in requests {
        let parts = request.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, parts[0].contains(".") else {
          throw ValidationError("--request '\(request)' is not module.Method=FILE")
        }
        overrides[String(parts[0])] = String(parts[1])
      }
      var targets: [LoadTarget] = []
      for info in modules {
        let methods = info.methods.map { (name: String($0.path.split(separator: "/").last ?? ""), isServerStreaming: $0.kind == .serverStreaming) }
        var chosen: [(method: String, file: String?, sample: SampleRequest?)] = []
        for (key, file) in overrides.sorted(by: { $0.key < $1.key }) where key.hasPrefix(info.name + ".") {
          chosen.append((method: String(key.dropFirst(info.name.count + 1)), file: file, sample: nil))
        }
        if chosen.isEmpty {
          let directory = SampleRequests.findDirectory(forMethods: Set(methods.map(\.name)), under: examples)
          let samples = try directory.map { try SampleRequests.load(directory: $0) } ?? []
          guard let sample = SampleRequests.representative(module: info.name, methods: methods, samples: samples) else {
            printError("load: no sample request for module \(info.name) under \(examples)/Plugins: skipped (give --request)")
            continue
          }
          chosen = [(sample.method, nil, sample)]
        }
        for (method, file, sample) in chosen {
          guard let path = info.methods.first(where: { $0.path.hasSuffix("/" + method) }) else {
            throw ValidationError("module \(info.name) has no method \(method)")
          }
          var bytes: [UInt8]
          if let file {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
            bytes = Array(data)
          } else {
            bytes = sample?.json ?? []
          }
          if file == nil || file!.hasSuffix(".json") {
            let transcoder = try await Self.transcoder(grpc, module: info, options: callOptions)
            do {
              bytes = try transcoder.encodeRequest(json: bytes, method: path.path)
            } catch {
              throw ValidationError("\(info.name).\(method): the request does not encode as protobuf: \(error)")
            }
          }
          targets.append(
            LoadTarget(
              label: "\(info.name).\(method)", path: path.path,
              isServerStreaming: path.kind == .serverStreaming || path.kind == .bidiStreaming,
              isBidi: path.kind == .bidiStreaming,
              request: bytes, expectedStatus: sample?.expectedStatus ?? .ok))
        }
      }
      return targets
    }

    /// The module's descriptors from the server's reflection service: the load generator,
    /// like any remote client, has no compiled message types.
    private static func transcoder(
      _ grpc: GRPCClient<HostClientTransport>, module: Carbon_Host_V1_ModuleInfo, options: CallOptions
    ) async throws -> JSONToProtobuf {
      let reflection = Grpc_Reflection_V1_ServerReflection.Client(wrapping: grpc)
      var files: [Google_Protobuf_FileDescriptorProto] = []
      for service in module.services {
        let protos = try await reflection.serverReflectionInfo(
          options: options,
          requestProducer: { writer in
            try await writer.write(.with { $0.fileContainingSymbol = service })
          },
          onResponse: { response in
            var found: [Data] = []
            for try await message in response.messages {
              if case .errorResponse(let error)? = message.messageResponse {
                throw ValidationError("reflection: \(service): \(error.errorMessage)")
              }
              found += message.fileDescriptorResponse.fileDescriptorProto
            }
            return found
          })
        for proto in protos {
          let file = try Google_Protobuf_FileDescriptorProto(serializedBytes: proto)
          if !files.contains(where: { $0.name == file.name }) { files.append(file) }
        }
      }
      let set = Google_Protobuf_FileDescriptorSet.with { $0.file = files }
      return try JSONToProtobuf(descriptorSet: try set.serializedBytes())
    }
  }
}

/// One method driven by the load generator.
struct LoadTarget: Sendable {
  /// "esca.ComputeBonus".
  let label: String
  /// "/carbon.esca.v1.Esca/ComputeBonus".
  let path: String
  let isServerStreaming: Bool
  /// A bidirectional method: the request is sent as a stream of one.
  let isBidi: Bool
  /// The request, protobuf.
  let request: [UInt8]
  /// The status the sample documents (OK by default): answering it counts as success.
  let expectedStatus: CarbonStatus

  var descriptor: MethodDescriptor {
    let parts = path.split(separator: "/")
    return MethodDescriptor(fullyQualifiedService: String(parts[0]), method: String(parts[1]))
  }
}

/// Numbers the calls of a run across its callers.
final class CallCounter: Sendable {
  private let value = Atomic<Int>(0)
  /// The number of calls issued before this one.
  func next() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// What one measured run observed.
struct LoadRun: Sendable {
  /// Latencies of the completed calls, microseconds (HdrHistogram, 3 significant digits: memory
  /// does not grow with the calls), by target index.
  var latencies: [Histogram<UInt64>]
  /// Failed calls by target index and status name.
  var errors: [[String: Int]]
  var seconds: Double

  /// An empty latency histogram (it grows to the largest latency recorded).
  static func histogram() -> Histogram<UInt64> { Histogram(numberOfSignificantValueDigits: .three) }

  /// Every target's latencies together.
  var allLatencies: Histogram<UInt64> {
    latencies.reduce(into: Self.histogram()) { $0.add($1) }
  }
}

/// Runs calls against the targets from concurrent callers, round robin, until a call budget
/// or a deadline is reached.
struct LoadDriver: Sendable {
  let clients: [GRPCClient<HostClientTransport>]
  let targets: [LoadTarget]
  /// Options of every call (its deadline).
  var options: CallOptions = .defaults

  func run(concurrency: Int, calls: Int, duration: Duration) async -> LoadRun {
    let issued = CallCounter()
    let started = ContinuousClock.now
    let deadline = started + duration
    let perCaller = await withTaskGroup(of: LoadRun.self) { group in
      for caller in 0..<concurrency {
        group.addTask {
          var run = LoadRun(latencies: Array(repeating: LoadRun.histogram(), count: targets.count), errors: Array(repeating: [:], count: targets.count), seconds: 0)
          let client = clients[caller % clients.count]
          var index = caller % targets.count
          while ContinuousClock.now < deadline, issued.next() < calls {
            let target = targets[index]
            let start = ContinuousClock.now
            let status = await call(client, target)
            if status == target.expectedStatus {
              _ = run.latencies[index].record(UInt64((ContinuousClock.now - start).seconds * 1e6))
            } else {
              run.errors[index][status == .ok ? "OK (expected \(target.expectedStatus.name))" : status.name, default: 0] += 1
            }
            index = (index + 1) % targets.count
          }
          return run
        }
      }
      var all: [LoadRun] = []
      for await run in group { all.append(run) }
      return all
    }
    var total = LoadRun(latencies: Array(repeating: LoadRun.histogram(), count: targets.count), errors: Array(repeating: [:], count: targets.count), seconds: (ContinuousClock.now - started).seconds)
    for run in perCaller {
      for index in targets.indices {
        total.latencies[index].add(run.latencies[index])
        total.errors[index].merge(run.errors[index], uniquingKeysWith: +)
      }
    }
    return total
  }

  /// One call; its status (streamed responses are read to the end).
  private func call(_ client: GRPCClient<HostClientTransport>, _ target: LoadTarget) async -> CarbonStatus {
    do {
      let request = ClientRequest(message: target.request)
      if target.isBidi {
        let message = target.request
        _ = try await client.bidirectionalStreaming(
          request: StreamingClientRequest { writer in try await writer.write(message) }, descriptor: target.descriptor,
          serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: options
        ) { response in
          var count = 0
          for try await _ in response.messages { count += 1 }
          return count
        }
      } else if target.isServerStreaming {
        _ = try await client.serverStreaming(
          request: request, descriptor: target.descriptor, serializer: RawBytesCoder(), deserializer: RawBytesCoder(),
          options: options
        ) { response in
          var count = 0
          for try await _ in response.messages { count += 1 }
          return count
        }
      } else {
        _ = try await client.unary(
          request: request, descriptor: target.descriptor, serializer: RawBytesCoder(), deserializer: RawBytesCoder(),
          options: options
        ) { try $0.message }
      }
      return .ok
    } catch let error as RPCError {
      return CarbonStatus(error.code)
    } catch {
      return .unknown  // not a gRPC error (connection gone)
    }
  }
}

/// The figures of a load run and its verdict.
struct LoadReport {
  let targets: [LoadTarget]
  let run: LoadRun
  let rssBefore: ProcessMemory?
  let rssAfter: ProcessMemory?
  let maxDrift: Double

  var calls: Int { run.latencies.reduce(0) { $0 + Int($1.totalCount) } + errorCount }
  var errorCount: Int { run.errors.reduce(0) { $0 + $1.values.reduce(0, +) } }
  var drift: Double? {
    guard let before = rssBefore?.residentKiB, let after = rssAfter?.residentKiB, before > 0 else { return nil }
    return Double(after - before) / Double(before) * 100
  }
  var failures: [String] {
    var failures: [String] = []
    if errorCount > 0 { failures.append("\(errorCount) calls failed") }
    if let drift, drift > maxDrift { failures.append(String(format: "server RSS grew %.1f %% (limit %.1f %%)", drift, maxDrift)) }
    return failures
  }
  var passed: Bool { failures.isEmpty }

  /// The latency at `percent` (0–100) of `histogram`, milliseconds; 0 without calls.
  static func percentile(_ histogram: Histogram<UInt64>, _ percent: Double) -> Double {
    histogram.totalCount == 0 ? 0 : Double(histogram.valueAtPercentile(percent)) / 1000
  }

  var table: String {
    var lines = [
      "| target | calls | errors | calls/s | p50 ms | p99 ms |", "|---|---|---|---|---|---|",
    ]
    for (index, target) in targets.enumerated() {
      let latencies = run.latencies[index]
      let ok = Int(latencies.totalCount)
      let errors = run.errors[index].values.reduce(0, +)
      lines.append(
        "| \(target.label) | "
          + String(
            format: "%d | %d | %.0f | %.2f | %.2f |", ok + errors, errors,
            Double(ok + errors) / run.seconds, Self.percentile(latencies, 50), Self.percentile(latencies, 99)))
    }
    let all = run.allLatencies
    lines.append(
      String(
        format: "| **all** | %d | %d | %.0f | %.2f | %.2f |", calls, errorCount, Double(calls) / run.seconds,
        Self.percentile(all, 50), Self.percentile(all, 99)))
    var errorsByStatus: [String: Int] = [:]
    for errors in run.errors { errorsByStatus.merge(errors, uniquingKeysWith: +) }
    lines.append("errors by status: " + (errorsByStatus.isEmpty ? "none" : errorsByStatus.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
    if let before = rssBefore, let after = rssAfter, let drift {
      lines.append(String(format: "server RSS: %.1f MiB after warm-up, %.1f MiB at the end (drift %+.1f %%, limit %.0f %%)", Double(before.residentKiB) / 1024, Double(after.residentKiB) / 1024, drift, maxDrift))
    } else {
      lines.append("server RSS: not read (give --server-pid)")
    }
    lines.append(String(format: "%.1f s measured", run.seconds))
    return lines.joined(separator: "\n")
  }

  var json: String {
    let all = run.allLatencies
    var object: [String: Any] = [
      "calls": calls, "errors": errorCount, "seconds": run.seconds, "calls_per_second": Double(calls) / run.seconds,
      "p50_ms": Self.percentile(all, 50), "p99_ms": Self.percentile(all, 99), "passed": passed,
      "targets": targets.enumerated().map { index, target -> [String: Any] in
        let latencies = run.latencies[index]
        return [
          "target": target.label, "ok": Int(latencies.totalCount), "errors": run.errors[index],
          "p50_ms": Self.percentile(latencies, 50), "p99_ms": Self.percentile(latencies, 99),
        ]
      },
    ]
    if let before = rssBefore, let after = rssAfter {
      object["server_rss_kib_start"] = before.residentKiB
      object["server_rss_kib_end"] = after.residentKiB
      object["server_rss_drift_pct"] = drift
    }
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    return String(decoding: data, as: UTF8.self)
  }
}

extension Duration {
  /// This duration in seconds, as a Double.
  var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
  /// This duration in milliseconds, as a Double.
  var milliseconds: Double { seconds * 1000 }
}

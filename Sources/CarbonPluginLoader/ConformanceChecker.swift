import CHeapStats
import CarbonDomain
import Foundation
import Synchronization
import SwiftProtobuf

#if canImport(Glibc)
  import Glibc
#endif

/// Checks that a plugin honours the ABI contract, from the outside, the way the host will use
/// it. Used by `carbonhub verify <plugin.so>` and by each plugin's tests.
///
/// Checks: the library loads (ABI version, descriptor), the embedded descriptor set parses and
/// declares every method with its kind, `init` accepts an empty config, every method answers an
/// empty request with a status (never a crash, never INTERNAL), invalid protobuf bytes and
/// invalid JSON give INVALID_ARGUMENT, an unknown method gives UNIMPLEMENTED, sample requests
/// (if given) succeed, 8 threads calling at once get identical answers, and repeated calls do
/// not grow the heap (every returned buffer is released with the plugin's `free_buffer`).
public struct ConformanceChecker: Sendable {
  /// One check and its outcome.
  public struct Check: Sendable, CustomStringConvertible {
    public let name: String
    public let passed: Bool
    public let detail: String
    public var description: String { "\(passed ? "PASS" : "FAIL")  \(name)\(detail.isEmpty ? "" : ": \(detail)")" }
  }

  /// The outcome of all checks.
  public struct Report: Sendable, CustomStringConvertible {
    public let path: String
    public let module: String
    public let checks: [Check]
    public var passed: Bool { !checks.isEmpty && checks.allSatisfy(\.passed) }
    public var failures: [Check] { checks.filter { !$0.passed } }
    public var description: String {
      (["\(module.isEmpty ? path : module) (\(path))"] + checks.map { "  \($0)" }
        + ["  \(passed ? "conformant" : "NOT conformant: \(failures.count) failed")"])
        .joined(separator: "\n")
    }
  }

  /// Statuses an empty (all-defaults) request may get: a method may accept it or refuse it
  /// with a reason, but must not fail internally.
  static let acceptableForEmptyRequest: Set<CarbonStatus> = [.ok, .invalidArgument, .notFound, .failedPrecondition, .outOfRange]

  /// Sample JSON requests by method path, expected to succeed unless `sampleStatuses` says
  /// otherwise.
  public var samples: [String: [UInt8]]
  /// Expected status of a sample by method path (gRPC code; absent means OK), for samples that
  /// document a refusal (e.g. NOT_FOUND on an empty register).
  public var sampleStatuses: [String: CarbonStatus] = [:]
  /// The JSON config given to `init`.
  public var configJSON: String
  /// Calls per thread in the concurrency check.
  public var concurrentCallsPerThread: Int
  /// Calls in the heap-growth check.
  public var leakCheckCalls: Int
  /// Mutated requests sent to each method in the fuzz stage (0 skips it).
  public var fuzzIterationsPerMethod: Int
  /// Seed of the fuzz stage's random generator, so that a finding can be replayed.
  public var fuzzSeed: UInt64
  /// More JSON requests to mutate, by method path (every sample variant of the method), besides
  /// `samples`.
  public var fuzzSeeds: [String: [[UInt8]]] = [:]
  /// Where the fuzz stage keeps inputs that got an undocumented status, were slow, hung or
  /// crashed (regression corpus layout, see `FuzzFindings`); nil keeps nothing.
  public var fuzzFindingsDirectory: String?

  public init(
    samples: [String: [UInt8]] = [:], configJSON: String = "{}", concurrentCallsPerThread: Int = 50,
    leakCheckCalls: Int = 2000, fuzzIterationsPerMethod: Int = 0, fuzzSeed: UInt64 = 0x5EED
  ) {
    self.fuzzIterationsPerMethod = fuzzIterationsPerMethod
    self.fuzzSeed = fuzzSeed
    self.samples = samples
    self.configJSON = configJSON
    self.concurrentCallsPerThread = concurrentCallsPerThread
    self.leakCheckCalls = leakCheckCalls
  }

  /// Runs every check on the plugin at `path`.
  public func check(path: String) async -> Report {
    var checks: [Check] = []
    func record(_ name: String, _ passed: Bool, _ detail: String = "") {
      checks.append(Check(name: name, passed: passed, detail: detail))
    }

    let library: PluginLibrary
    do {
      library = try PluginLibrary(path: path)
      record("loads (ABI v\(library.abiVersion), descriptor valid)", true, "\(library.name) \(library.version)")
    } catch {
      record("loads", false, error.description)
      return Report(path: path, module: "", checks: checks)
    }

    record("declares at least one method", !library.methods.isEmpty, "\(library.methods.count) methods")
    checkDescriptorSet(library, record)

    let dataDirectory = FileManager.default.temporaryDirectory
      .appendingPathComponent("carbonhub-verify-\(library.name)-\(getpid())").path
    try? FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dataDirectory) }
    let instance: PluginInstance
    do {
      instance = try library.makeInstance(configJSON: configJSON, dataDirectory: dataDirectory)
      record("init accepts config \(configJSON)", true)
    } catch {
      record("init accepts config \(configJSON)", false, error.description)
      return Report(path: path, module: library.name, checks: checks)
    }

    let transcoder = try? JSONToProtobuf(descriptorSet: library.descriptorSet)
    for method in library.methods {
      let empty = Self.call(instance, method, [], .protobuf)
      record(
        "\(method.path) answers an empty request", Self.acceptableForEmptyRequest.contains(empty.status),
        empty.summary)
      let garbage = Self.call(instance, method, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F], .protobuf)
      record("\(method.path) rejects invalid protobuf with INVALID_ARGUMENT", garbage.status == .invalidArgument, garbage.summary)
      let badJSON = Self.call(instance, method, Array("{\"unterminated".utf8), .json)
      record("\(method.path) rejects invalid JSON with INVALID_ARGUMENT", badJSON.status == .invalidArgument, badJSON.summary)
      if let sample = samples[method.path] {
        let outcome = Self.call(instance, method, sample, .json)
        let expected = sampleStatuses[method.path] ?? .ok
        let name = expected == .ok ? "succeeds on its sample request" : "answers its sample request with \(expected.name)"
        record("\(method.path) \(name)", outcome.status == expected, outcome.summary)
        if let path = Self.nonFiniteNumber(in: outcome, method, .json, transcoder) {
          record("\(method.path) answers its sample with finite numbers only", false, "non-finite number at \(path)")
        }
      }
    }

    if let first = library.methods.first {
      let unknown = PluginMethod(path: "/\(first.service)/NoSuchMethodForConformance", isServerStreaming: false)
      let outcome = Self.call(instance, unknown, [], .protobuf)
      record("an unknown method gives UNIMPLEMENTED", outcome.status == .unimplemented, outcome.summary)
    }

    if fuzzIterationsPerMethod > 0 {
      let findings = fuzzFindingsDirectory.map { FuzzFindings(directory: $0, module: library.name) }
      for method in library.methods {
        let outcome = fuzz(instance, method, transcoder: transcoder, findings: findings)
        record(
          "\(method.path) survives \(fuzzIterationsPerMethod) mutated requests (protobuf and JSON)", outcome.unexpected.isEmpty,
          outcome.summary)
      }
    }
    checkConcurrency(instance, library, record)
    // glibc's mallinfo2 counts the main arena only: run the measured calls on the main thread,
    // whose allocations (the plugin's included) all go to that arena.
    let heap = await MainActor.run { [self] in heapGrowthCheck(instance, library) }
    checks.append(heap)
    return Report(path: path, module: library.name, checks: checks)
  }

  private func checkDescriptorSet(_ library: PluginLibrary, _ record: (String, Bool, String) -> Void) {
    guard let set = try? Google_Protobuf_FileDescriptorSet(serializedBytes: library.descriptorSet),
      !set.file.isEmpty
    else {
      record("descriptor set parses as google.protobuf.FileDescriptorSet", false, "\(library.descriptorSet.count) bytes")
      return
    }
    record("descriptor set parses as google.protobuf.FileDescriptorSet", true, "\(set.file.count) files")
    for method in library.methods {
      let declared = set.file.lazy.compactMap { file -> Google_Protobuf_MethodDescriptorProto? in
        let prefix = file.package.isEmpty ? "" : file.package + "."
        guard let service = file.service.first(where: { prefix + $0.name == method.service }) else { return nil }
        return service.method.first { $0.name == method.name }
      }.first
      guard let declared else {
        record("\(method.path) is in the descriptor set", false, "no such service/method")
        continue
      }
      let streamingMatches =
        declared.serverStreaming == method.isServerStreaming && declared.clientStreaming == method.isClientStreaming
      record(
        "\(method.path) is in the descriptor set", streamingMatches,
        streamingMatches
          ? ""
          : "kind differs from the descriptor set (server_streaming=\(declared.serverStreaming), client_streaming=\(declared.clientStreaming))")
    }
  }

  private func checkConcurrency(
    _ instance: PluginInstance, _ library: PluginLibrary, _ record: (String, Bool, String) -> Void
  ) {
    let threads = 8
    let calls = concurrentCallsPerThread
    let probes = library.methods.map { method in (method, samples[method.path] ?? [], samples[method.path] == nil ? WireEncoding.protobuf : .json) }
    let expected = probes.map { Self.call(instance, $0.0, $0.1, $0.2) }
    // A method whose answer differs between two sequential calls keeps state (a register) or
    // stamps time: for it, concurrent answers must agree on the status only.
    let deterministic = probes.enumerated().map { index, probe in Self.call(instance, probe.0, probe.1, probe.2) == expected[index] }
    let mismatches = Mutex(0)
    DispatchQueue.concurrentPerform(iterations: threads) { _ in
      for _ in 0..<calls {
        for (index, probe) in probes.enumerated() {
          let outcome = Self.call(instance, probe.0, probe.1, probe.2)
          let agrees = deterministic[index] ? outcome == expected[index] : outcome.status == expected[index].status
          if !agrees { mismatches.withLock { $0 += 1 } }
        }
      }
    }
    let count = mismatches.withLock { $0 }
    record(
      "\(threads) threads × \(calls) calls agree", count == 0,
      count == 0 ? "" : "\(count) answers differed from the single-threaded answer")
  }

  /// Heap in use (`mallinfo2`) before and after the repeated calls. glibc counts chunks held in
  /// its per-thread caches as in use, so a caller in this process measures noise from those
  /// caches too; `carbonhub verify` restarts itself with `glibc.malloc.tcache_count=0` first.
  private func heapGrowthCheck(_ instance: PluginInstance, _ library: PluginLibrary) -> Check {
    let probes = library.methods.map { method in (method, samples[method.path] ?? [0xFF, 0xFF, 0x0F], samples[method.path] == nil ? WireEncoding.protobuf : .json) }
    func run(_ n: Int) {
      for _ in 0..<n { for probe in probes { _ = Self.call(instance, probe.0, probe.1, probe.2) } }
    }
    run(200)
    let before = carbonhub_heap_bytes_in_use()
    run(leakCheckCalls)
    let after = carbonhub_heap_bytes_in_use()
    let growth = after > before ? after - before : 0
    // Allow 4 KiB of allocator noise plus 4 bytes per call: a leak of one small buffer per call
    // (≥ 16 bytes with malloc's rounding) exceeds it.
    let limit = 4096 + 4 * leakCheckCalls * max(library.methods.count, 1)
    return Check(
      name: "\(leakCheckCalls) calls per method do not grow the heap", passed: growth < limit,
      detail: "heap grew by \(growth) bytes (limit \(limit))")
  }

  /// Statuses a method may answer to arbitrary bytes: anything a module documents for bad
  /// input. INTERNAL, UNKNOWN and DATA_LOSS mean a defect; a crash ends the process.
  public static let acceptableForFuzzedRequest: Set<CarbonStatus> = [
    .ok, .invalidArgument, .notFound, .resourceExhausted, .failedPrecondition, .outOfRange, .unimplemented,
  ]

  struct FuzzOutcome {
    var statuses: [CarbonStatus: Int] = [:]
    var unexpected: [String] = []
    var slowest: Double = 0
    var summary: String {
      let counts = statuses.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.name) \($0.value)" }.joined(separator: ", ")
      let problems = unexpected.prefix(3).joined(separator: "; ")
      return "\(counts); slowest \(String(format: "%.1f", slowest * 1000)) ms" + (problems.isEmpty ? "" : "; UNEXPECTED: \(problems)")
    }
  }

  /// Sends mutations of the method's sample requests (or of an empty one) in both encodings:
  /// JSON with one value swapped for an extreme (NaN, huge, negative, wrong type) sent as JSON
  /// and, re-encoded with the plugin's own descriptor set, as protobuf; JSON with one array
  /// repeated 10 to 1000 times; byte mutations (bit flips, truncations, insertions, duplicated
  /// slices) of the JSON and of its protobuf encoding; random well-formed protobuf; random bytes.
  func fuzz(
    _ instance: PluginInstance, _ method: PluginMethod, transcoder: JSONToProtobuf? = nil,
    findings: FuzzFindings? = nil
  ) -> FuzzOutcome {
    var generator = SplitMix64(seed: fuzzSeed ^ Self.stableHash(method.path))
    var outcome = FuzzOutcome()
    var jsonSeeds = (samples[method.path].map { [$0] } ?? []) + (fuzzSeeds[method.path] ?? [])
    jsonSeeds.append(Array("{}".utf8))
    func encoded(_ json: [UInt8]) -> [UInt8]? { try? transcoder?.encodeRequest(json: json, method: method.path) }
    let protobufSeeds = jsonSeeds.compactMap(encoded)
    let trace = ProcessInfo.processInfo.environment["CARBONHUB_FUZZ_TRACE"] != nil
    var slowest: (bytes: [UInt8], encoding: WireEncoding)?
    for iteration in 0..<fuzzIterationsPerMethod {
      var encoding = WireEncoding.json
      var bytes: [UInt8]
      let seed = jsonSeeds[Int(generator.next() % UInt64(jsonSeeds.count))]
      switch iteration % 7 {
      case 0:
        bytes = Self.replaceValue(seed, &generator)
      case 1:
        bytes = Self.mutate(seed, &generator)
      case 2:
        // An extreme value in an otherwise valid protobuf request: reaches the calculation.
        encoding = .protobuf
        bytes = encoded(Self.replaceValue(seed, &generator)) ?? Self.mutate(protobufSeeds.randomElement(using: &generator) ?? [], &generator)
      case 3:
        encoding = .protobuf
        bytes = Self.mutate(protobufSeeds.randomElement(using: &generator) ?? [], &generator)
      case 4:
        // A larger request of the same shape: finds calculations slower than linear.
        bytes = Self.grow(seed, &generator)
        if generator.next() % 2 == 0, let binary = encoded(bytes) {
          encoding = .protobuf
          bytes = binary
        }
      case 5:
        encoding = .protobuf
        bytes = Self.mutate(Self.randomProtobuf(&generator), &generator)
      default:
        encoding = .protobuf
        bytes = (0..<Int(generator.next() % 64)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
      }
      let started = Date()
      if trace {
        let shown = encoding == .json ? String(decoding: bytes, as: UTF8.self) : bytes.map { String(format: "%02x", $0) }.joined()
        FileHandle.standardError.write(Data("fuzz \(method.name) #\(iteration) \(encoding): \(shown)\n".utf8))
      }
      findings?.begin(method: method, input: bytes, encoding: encoding)
      let result = Self.call(instance, method, bytes, encoding)
      findings?.end(method: method, status: result.status, acceptable: Self.acceptableForFuzzedRequest)
      let elapsed = Date().timeIntervalSince(started)
      if elapsed > outcome.slowest { slowest = (bytes, encoding) }
      outcome.slowest = max(outcome.slowest, elapsed)
      outcome.statuses[result.status, default: 0] += 1
      if let path = Self.nonFiniteNumber(in: result, method, encoding, transcoder), outcome.unexpected.count < 10 {
        let shown = encoding == .json ? String(decoding: bytes.prefix(200), as: UTF8.self) : bytes.prefix(64).map { String(format: "%02x", $0) }.joined()
        outcome.unexpected.append("OK with a non-finite number at \(path) for \(encoding) \(shown)")
      }
      if !Self.acceptableForFuzzedRequest.contains(result.status) && outcome.unexpected.count < 10 {
        let shown = encoding == .json ? String(decoding: bytes.prefix(200), as: UTF8.self) : bytes.prefix(64).map { String(format: "%02x", $0) }.joined()
        outcome.unexpected.append("\(result.summary) for \(encoding) \(shown)")
      }
    }
    // The slowest input of the run joins the corpus too: replaying it catches a calculation
    // that becomes slower than it was.
    if let slowest { findings?.save(method: method, kind: "slowest", input: slowest.bytes, encoding: slowest.encoding) }
    return outcome
  }

  /// Values a fuzzed JSON request puts in place of a number, an enum name or a boolean.
  static let extremes = [
    "NaN", "-1e308", "1e308", "-1", "0", "\"\"", "null", "[]", "{}", "\"x\"", "true", "18446744073709551616",
    "-0.0000001", "1e15", "-1e15", "2147483648", "-2147483649", "\"NaN\"", "\"Infinity\"", "\"-Infinity\"", "5e-324",
  ]

  /// The JSON text with one scalar (number, enum name, boolean) replaced by an extreme.
  static func replaceValue(_ json: [UInt8], _ generator: inout SplitMix64) -> [UInt8] {
    var text = String(decoding: json, as: UTF8.self)
    let scalars = text.ranges(ofPattern: #"(-?[0-9][0-9.eE+-]*|"[A-Z][A-Z0-9_]+"|true|false)"#)
    if let range = scalars.randomElement(using: &generator) {
      text.replaceSubrange(range, with: extremes.randomElement(using: &generator)!)
    }
    return Array(text.utf8)
  }

  /// The JSON request with one of its arrays repeated 10, 100 or 1000 times.
  static func grow(_ json: [UInt8], _ generator: inout SplitMix64) -> [UInt8] {
    guard let object = try? JSONValue(parsing: json) else { return json }
    let factor = [10, 100, 1000][Int(generator.next() % 3)]
    func walk(_ value: JSONValue) -> JSONValue {
      if var members = value.members, !members.isEmpty {
        let keys = members.map(\.key).sorted()
        if let key = keys.randomElement(using: &generator), let index = members.lastIndex(where: { $0.key == key }) {
          members[index].value = walk(members[index].value)
        }
        return .object(members)
      }
      if let array = value.elements, !array.isEmpty {
        if generator.next() % 2 == 0 { return .array(Array(repeating: array, count: factor).flatMap { $0 }) }
        var copy = array
        let index = Int(generator.next() % UInt64(array.count))
        copy[index] = walk(array[index])
        return .array(copy)
      }
      return value
    }
    return walk(object).serialized
  }

  /// `hashValue` is seeded per process, which would make runs unrepeatable: FNV-1a is not.
  static func stableHash(_ text: String) -> UInt64 { fnv1a(text.utf8) }

  static func mutate(_ input: [UInt8], _ generator: inout SplitMix64) -> [UInt8] {
    var bytes = input
    for _ in 0..<(1 + Int(generator.next() % 4)) {
      let position = bytes.isEmpty ? 0 : Int(generator.next() % UInt64(bytes.count))
      switch generator.next() % 5 {
      case 0 where !bytes.isEmpty: bytes[position] ^= UInt8(1 << (generator.next() % 8))
      case 1: bytes = Array(bytes.prefix(position))
      case 2: bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
      case 3 where !bytes.isEmpty:
        let end = min(bytes.count, position + 1 + Int(generator.next() % 16))
        bytes.insert(contentsOf: bytes[position..<end], at: position)
      default: if !bytes.isEmpty { bytes.remove(at: position) }
      }
    }
    return bytes
  }

  /// A well-formed protobuf message of random fields (varints, fixed64 doubles, nested bytes).
  static func randomProtobuf(_ generator: inout SplitMix64) -> [UInt8] {
    var bytes: [UInt8] = []
    for _ in 0..<(1 + Int(generator.next() % 6)) {
      let field = UInt8(1 + generator.next() % 12)
      switch generator.next() % 3 {
      case 0:
        bytes.append(field << 3 | 0)
        var value = generator.next() % 1000
        repeat {
          bytes.append(UInt8(value & 0x7F) | (value > 0x7F ? 0x80 : 0))
          value >>= 7
        } while value > 0
      case 1:
        bytes.append(field << 3 | 1)
        let doubles: [Double] = [.nan, .infinity, -1, 0, 1e300, 2.5]
        withUnsafeBytes(of: doubles[Int(generator.next() % 6)].bitPattern.littleEndian) { bytes += $0 }
      default:
        let inner = (0..<Int(generator.next() % 12)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        bytes.append(field << 3 | 2)
        bytes.append(UInt8(inner.count))
        bytes += inner
      }
    }
    return bytes
  }

  struct Outcome: Equatable {
    var status: CarbonStatus
    var bytes: [UInt8]
    var message: String
    /// Each response message (several for a streaming method).
    var responses: [[UInt8]] = []
    var summary: String {
      status == .ok ? "OK (\(bytes.count) bytes)" : "\(status.name): \(message)"
    }
  }

  /// Where a successful answer carries a NaN or infinite number (none may: a module reports an
  /// overflow as an error naming the result), or nil. JSON answers are read through the
  /// descriptors, where proto3's "NaN"/"Infinity" strings become the numbers they stand for.
  static func nonFiniteNumber(
    in outcome: Outcome, _ method: PluginMethod, _ encoding: WireEncoding, _ transcoder: JSONToProtobuf?
  ) -> String? {
    guard outcome.status == .ok, let transcoder, let type = transcoder.outputTypes[method.path] else { return nil }
    for (index, response) in outcome.responses.enumerated() {
      let bytes = encoding == .json ? (try? transcoder.encode(json: response, type: type)) : response
      guard let bytes, let path = transcoder.firstNonFiniteNumber(inResponse: bytes, method: method.path) else { continue }
      return outcome.responses.count > 1 ? "response \(index + 1): \(path)" : path
    }
    return nil
  }

  static func call(_ instance: PluginInstance, _ method: PluginMethod, _ request: [UInt8], _ encoding: WireEncoding) -> Outcome {
    do {
      let responses = try instance.callCollecting(method, request: request, encoding: encoding)
      return Outcome(status: .ok, bytes: Array(responses.joined()), message: "", responses: responses)
    } catch {
      return Outcome(status: error.status, bytes: [], message: error.message)
    }
  }
}

extension String {
  /// Ranges of the regular-expression matches in this string.
  func ranges(ofPattern pattern: String) -> [Range<String.Index>] {
    guard let expression = try? NSRegularExpression(pattern: pattern) else { return [] }
    return expression.matches(in: self, range: NSRange(startIndex..., in: self)).compactMap { Range($0.range, in: self) }
  }
}

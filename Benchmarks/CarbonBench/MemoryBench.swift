import CarbonHost
import CarbonPluginLoader
import Foundation

// MARK: - RSS over 1 000 000 calls, in process
//
// Every plugin of the bin directory that has sample requests in the repository, called
// round robin through the C ABI (the host's dispatch path without gRPC) with its
// representative sample (the request `carbonhub load` sends), encoded as protobuf with the
// plugin's own descriptor set. RSS is read after a warm-up and every tenth of the run.

/// A plugin instance and the request it is called with.
struct MemoryTarget {
  let label: String
  let instance: PluginInstance
  let method: PluginMethod
  let request: [UInt8]
}

func memoryTargets() throws -> [MemoryTarget] {
  let files = (try FileManager.default.contentsOfDirectory(atPath: binDirectory)).filter { $0.hasSuffix(".so") }.sorted()
  var targets: [MemoryTarget] = []
  for file in files {
    guard let library = try? PluginLibrary(path: binDirectory + "/" + file) else { continue }
    let methods = library.methods.map { (name: $0.name, isServerStreaming: $0.isServerStreaming) }
    guard let directory = SampleRequests.findDirectory(forMethods: Set(methods.map(\.name)), under: repositoryRoot),
      let sample = SampleRequests.representative(module: library.name, methods: methods, samples: (try? SampleRequests.load(directory: directory)) ?? []),
      let method = library.methods.first(where: { $0.name == sample.method })
    else { continue }
    let data = NSTemporaryDirectory() + "carbonhub-bench-memory-\(getpid())-\(library.name)"
    try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
    let instance = try library.makeInstance(configJSON: "{}", dataDirectory: data)
    let request = try JSONToProtobuf(descriptorSet: library.descriptorSet).encodeRequest(json: sample.json, method: method.path)
    targets.append(MemoryTarget(label: "\(library.name).\(method.name)", instance: instance, method: method, request: request))
  }
  return targets
}

func benchMemory(calls: Int) throws {
  let targets = try memoryTargets()
  guard !targets.isEmpty else { throw BenchError("no plugin with sample requests in \(binDirectory)") }
  report("## RSS over \(calls) calls in process (round robin: \(targets.map(\.label).joined(separator: ", ")))")
  var errors = 0
  func call(_ target: MemoryTarget) {
    do {
      _ = try target.instance.callCollecting(target.method, request: target.request)
    } catch {
      errors += 1
    }
  }
  // Per-target cost, measured apart so the table says what the round robin is made of.
  var perCall: [String] = []
  for target in targets {
    let started = ContinuousClock.now
    for _ in 0..<200 { call(target) }
    perCall.append(target.label + String(format: " %.1f µs", (ContinuousClock.now - started).benchSeconds / 200 * 1e6))
  }
  for index in 0..<10_000 { call(targets[index % targets.count]) }
  let start = ProcessMemory.read()!
  report("| calls | RSS | drift since warm-up |")
  report("|---|---|---|")
  report("| 10 000 (warm-up) | \(String(format: "%.1f MiB", Double(start.residentKiB) / 1024)) | |")
  var samples: [[String: Any]] = [["calls": 0, "rss_kib": start.residentKiB]]
  let started = ContinuousClock.now
  let step = max(calls / 10, 1)
  for index in 0..<calls {
    call(targets[index % targets.count])
    if (index + 1) % step == 0 {
      let now = ProcessMemory.read()!
      samples.append(["calls": index + 1, "rss_kib": now.residentKiB])
      report(
        "| \(index + 1) | \(String(format: "%.1f MiB", Double(now.residentKiB) / 1024)) | "
          + String(format: "%+.1f %%", Double(now.residentKiB - start.residentKiB) / Double(start.residentKiB) * 100) + " |")
    }
  }
  let seconds = (ContinuousClock.now - started).benchSeconds
  report("per call (200 calls each): \(perCall.joined(separator: "; ")); \(calls) calls in \(String(format: "%.1f", seconds)) s; \(errors) errors")
  let object: [String: Any] = ["memory": ["calls": calls, "seconds": seconds, "errors": errors, "targets": targets.map(\.label), "samples": samples]]
  report("json " + String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
}

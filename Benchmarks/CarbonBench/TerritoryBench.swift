import CarbonHost
import CarbonPluginLoader
import Foundation

// MARK: - ALDO territory diagnostics, in process
//
// Issue 18: "Time the region call in the bench (target: under 1 s for a region of 3 800
// communes in a release build, memory reported)". ALDO's territory examples (region 32, an
// EPCI) are called through the C ABI as the host calls them: the first call (which reads the
// shipped territory files) apart, then the median of `--calls` calls, and the RSS around them.

func benchTerritory(calls: Int) throws {
  let library = try PluginLibrary(path: binDirectory + "/libALDO.so")
  let data = NSTemporaryDirectory() + "carbonhub-bench-territory-\(getpid())"
  try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
  let before = ProcessMemory.read()!
  let instance = try library.makeInstance(configJSON: "{}", dataDirectory: data)
  guard let method = library.methods.first(where: { $0.name == "ComputeFlux" }) else {
    throw BenchError("libALDO.so has no ComputeFlux")
  }
  let codec = try JSONToProtobuf(descriptorSet: library.descriptorSet)
  let examples = repositoryRoot + "/Plugins/ALDO/examples/"
  report("## ALDO ComputeFlux by territory code, in process (release build; \(calls) calls after the first)")
  report("| territory | communes | first call | median of the next | RSS after |")
  report("|---|---|---|---|---|")
  for (label, file) in [("region 32 (Hauts-de-France)", "ComputeFlux.territory-region.json"), ("EPCI", "ComputeFlux.territory-epci.json")] {
    let json = try [UInt8](Data(contentsOf: URL(fileURLWithPath: examples + file)))
    let request = try codec.encodeRequest(json: json, method: method.path)
    var started = ContinuousClock.now
    let response = try instance.call(method.path, request: request)
    let first = (ContinuousClock.now - started).benchSeconds
    guard !response.isEmpty else { throw BenchError("\(file): empty answer") }
    // The commune count, from the same call answered in JSON (not timed).
    let answer = try instance.call(method.path, request: json, encoding: .json)
    let object = try JSONSerialization.jsonObject(with: Data(answer)) as? [String: Any]
    let communes = (object?["territory"] as? [String: Any])?["commune_count"]
    var durations: [Double] = []
    for _ in 0..<calls {
      started = ContinuousClock.now
      _ = try instance.call(method.path, request: request)
      durations.append((ContinuousClock.now - started).benchSeconds)
    }
    durations.sort()
    let rss = ProcessMemory.read()!
    report(
      String(
        format: "| %@ | %@ | %.1f ms | %.1f ms | %.1f MiB (%.1f MiB before the module loaded) |", label,
        "\(communes ?? "?")", first * 1e3, (durations.isEmpty ? first : durations[durations.count / 2]) * 1e3,
        Double(rss.residentKiB) / 1024, Double(before.residentKiB) / 1024))
  }
}

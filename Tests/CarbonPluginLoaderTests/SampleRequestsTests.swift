import CarbonDomain
import CarbonPluginLoader
import Foundation
import Testing

/// The samples `verify`, `load` and the benchmarks send are read by `ExampleCase`, the one reader
/// of example folders, and a broken expect file stops them instead of counting as "expect OK".
@Suite("Sample requests of an examples folder")
struct SampleRequestsTests {
  private func folder(_ files: [String: String]) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("samples-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for (name, text) in files { try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8) }
    return directory
  }

  @Test func methodVariantAndExpectedStatusComeFromTheFileNames() throws {
    let directory = try folder([
      "Convert.json": #"{"quantity": 1}"#,
      "Convert.negative.json": #"{"quantity": -1}"#,
      "Convert.negative.expect.json": #"{"status": "INVALID_ARGUMENT", "field": "quantity"}"#,
      "Convert.expect.json": #"{"values": {"result": [1, 0]}}"#,
    ])
    let samples = try SampleRequests.load(directory: directory)
    #expect(samples.map(\.method) == ["Convert", "Convert"])
    #expect(samples.map(\.variant) == [nil, "negative"])
    #expect(samples.map(\.expectedStatus) == [.ok, .invalidArgument])
    #expect(samples[0].json == Array(#"{"quantity": 1}"#.utf8))
  }

  @Test func aBrokenExpectFileIsAnErrorNamingIt() throws {
    let unknown = try folder(["Convert.json": "{}", "Convert.expect.json": #"{"status": "INVALID"}"#])
    #expect(throws: ExampleFileError.self) { try SampleRequests.load(directory: unknown) }
    let notJSON = try folder(["Convert.json": "{}", "Convert.expect.json": #"{"status": "#])
    #expect { try SampleRequests.load(directory: notJSON) } throws: { error in
      "\(error)".contains("Convert.expect.json")
    }
  }
}

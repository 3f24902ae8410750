import CarbonDomain
@testable import CarbonPluginKit
import CarbonPluginLoader
import CarbonPluginTesting
import ExampleUnitsModule
import Foundation
import Testing

/// The plugin kit end to end on the example Swift module, in process, through encoded bytes.
@Suite("Plugin kit")
struct PluginKitTests {
  let convertPath = "/carbon.examples.v1.Units/Convert"
  let batchPath = "/carbon.examples.v1.Units/ConvertBatch"

  func request(_ value: Double, _ unit: MeasurementUnit, to target: MeasurementUnit) -> Carbon_Examples_V1_ConvertRequest {
    var request = Carbon_Examples_V1_ConvertRequest()
    request.quantity = Quantity(value, unit)
    request.targetUnit = target
    return request
  }

  @Test func unaryCallThroughProtobufBytes() throws {
    let units = try ModuleHarness<UnitsModule>()
    let response = try units.call(convertPath, request(3, .tC, to: .tCo2E), as: Carbon_Examples_V1_ConvertResponse.self)
    // 3 t C × 44/12 = 11 t CO2e
    #expect(abs(response.quantity.value - 11) < 1e-12)
    #expect(response.trace.value(of: "co2_per_carbon") == 44.0 / 12.0)
    #expect(response.trace.method == "unit conversion")
  }

  @Test func unaryCallThroughJSON() throws {
    let units = try ModuleHarness<UnitsModule>()
    let json = try units.callJSON(convertPath, #"{"quantity": {"value": 1.5, "unit": "UNIT_T"}, "targetUnit": "UNIT_KG"}"#)
    #expect(json.contains(#""value":1500"#))
    #expect(json.contains(#""target_unit""#) == false, "responses use proto field names of the response message")
  }

  /// Issue 20 point 1: no response carries inf or NaN. A module whose calculation overflows
  /// (here a response built with +inf, as an unchecked product of two large inputs would) gets
  /// OUT_OF_RANGE naming the result, in protobuf and in JSON, never an answer holding it.
  @Test func aNonFiniteResultIsAnErrorNamingItNeverAnAnswer() throws {
    var response = Carbon_Examples_V1_ConvertResponse()
    response.quantity = Quantity(1e308 * 10, .tCo2E)
    for encoding in [MessageEncoding.protobuf, .json] {
      let error = #expect(throws: ModuleError.self) { try MessageCoding.encodeResponse(response, encoding) }
      #expect(error?.status == .outOfRange)
      #expect(error?.field == "response.quantity.value")
      #expect(error?.message.hasPrefix("response.quantity.value: the result is not a finite number") == true)
    }
    // Requests and other messages are still encoded as SwiftProtobuf would, NaN included.
    #expect(try MessageCoding.encode(response, .protobuf) == (try response.serializedBytes()))
    response.quantity.value = 11
    #expect(try MessageCoding.encodeResponse(response, .protobuf) == (try response.serializedBytes()))
  }

  /// Issue 20 point 1, for plugins in any language: the conformance checker finds a non-finite
  /// number in an answer's bytes with the plugin's descriptors alone.
  @Test func theConformanceScanFindsANonFiniteNumberInAnyAnswer() throws {
    let codec = try JSONToProtobuf(descriptorSet: UnitsModule.descriptorSet)
    let type = ".carbon.examples.v1.ConvertResponse"
    let infinite = try codec.encode(json: Array(#"{"quantity": {"value": "Infinity", "unit": "UNIT_T_CO2E"}}"#.utf8), type: type)
    #expect(codec.firstNonFiniteNumber(inResponse: infinite, method: convertPath) == "quantity.value")
    let finite = try codec.encode(json: Array(#"{"quantity": {"value": 11, "unit": "UNIT_T_CO2E"}}"#.utf8), type: type)
    #expect(codec.firstNonFiniteNumber(inResponse: finite, method: convertPath) == nil)
    // A NaN deep in the trace, as the third term: the path says which.
    let nanInTrace = try codec.encode(
      json: Array(#"{"quantity": {"value": 1}, "trace": {"terms": [{"name": "a", "value": 1}, {"name": "b", "value": 2}, {"name": "c", "value": "NaN"}]}}"#.utf8),
      type: type)
    #expect(codec.firstNonFiniteNumber(inResponse: nanInTrace, method: convertPath) == "trace.terms[2].value")
  }

  @Test func errorsNameTheField() throws {
    let units = try ModuleHarness<UnitsModule>()
    do {
      _ = try units.call(convertPath, request(.infinity, .t, to: .kg), as: Carbon_Examples_V1_ConvertResponse.self)
      Issue.record("expected an error")
    } catch {
      #expect(error.status == .invalidArgument)
      #expect(error.field == "quantity.value")
    }
    do {
      _ = try units.call(convertPath, request(1, .t, to: .unspecified), as: Carbon_Examples_V1_ConvertResponse.self)
      Issue.record("expected an error")
    } catch {
      #expect(error.status == .invalidArgument)
      #expect(error.field == "target_unit")
    }
  }

  @Test func malformedRequestsAreInvalidArgumentNotCrashes() throws {
    let units = try ModuleHarness<UnitsModule>()
    for bytes: [UInt8] in [[0xFF], [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], Array(repeating: 0x80, count: 20)] {
      #expect(throws: ModuleError.self) { try units.instance.call(convertPath, request: bytes) }
    }
    do {
      _ = try units.callJSON(convertPath, "{not json")
      Issue.record("expected an error")
    } catch {
      #expect(error.status == .invalidArgument)
      #expect(error.message.contains("proto3 JSON"))
    }
  }

  @Test func unknownMethodIsUnimplemented() throws {
    let units = try ModuleHarness<UnitsModule>()
    do {
      _ = try units.instance.call("/carbon.examples.v1.Units/Nope", request: [])
      Issue.record("expected an error")
    } catch {
      #expect(error.status == .unimplemented)
    }
  }

  @Test func streamingSendsOneResponsePerItemInOrder() throws {
    let units = try ModuleHarness<UnitsModule>()
    var batch = Carbon_Examples_V1_ConvertBatchRequest()
    batch.items = (1...5).map { request(Double($0), .t, to: .kg) }
    let responses = try units.stream(batchPath, batch, as: Carbon_Examples_V1_ConvertResponse.self)
    #expect(responses.map(\.quantity.value) == [1000, 2000, 3000, 4000, 5000])
  }

  @Test func streamingErrorNamesTheItem() throws {
    let units = try ModuleHarness<UnitsModule>()
    var batch = Carbon_Examples_V1_ConvertBatchRequest()
    batch.items = [request(1, .t, to: .kg), request(1, .t, to: .ha)]
    do {
      _ = try units.stream(batchPath, batch, as: Carbon_Examples_V1_ConvertResponse.self)
      Issue.record("expected an error")
    } catch {
      #expect(error.field == "items[1].target_unit")
    }
  }

  @Test func streamingStopsWhenTheCallerStops() throws {
    let units = try ModuleHarness<UnitsModule>()
    var batch = Carbon_Examples_V1_ConvertBatchRequest()
    batch.items = (1...100).map { request(Double($0), .t, to: .kg) }
    let bytes = try MessageCoding.encode(batch, .protobuf)
    let received = Counter()
    do {
      _ = try units.instance.call(batchPath, request: bytes) { _ in received.increment() < 3 }
      Issue.record("expected CANCELLED")
    } catch {
      #expect(error.status == .cancelled)
    }
    #expect(received.value == 3)
  }

  @Test func configIsDecodedAndValidated() throws {
    let small = try ModuleHarness<UnitsModule>(configJSON: #"{"max_batch_items": 2}"#)
    var batch = Carbon_Examples_V1_ConvertBatchRequest()
    batch.items = (1...3).map { request(Double($0), .t, to: .kg) }
    #expect(throws: ModuleError.self) { try small.stream(batchPath, batch, as: Carbon_Examples_V1_ConvertResponse.self) }

    do {
      _ = try ModuleHarness<UnitsModule>(configJSON: #"{"max_batch_items": "lots"}"#)
      Issue.record("expected a config error")
    } catch {
      #expect(error.status == .invalidArgument)
      #expect(error.field == "config.max_batch_items")
    }
    do {
      _ = try ModuleHarness<UnitsModule>(configJSON: #"{"max_batch_items": 0}"#)
      Issue.record("expected a config error")
    } catch {
      #expect(error.field == "config.max_batch_items")
    }
  }

  @Test func examplesNextToThePluginPass() throws {
    let units = try ModuleHarness<UnitsModule>()
    let problems = try units.verifyExamples(in: repositoryRoot() + "/Plugins/examples/units-swift/examples")
    #expect(problems.isEmpty, "\(problems)")
  }

  @Test func exampleExpectationsCatchWrongNumbers() throws {
    let example = ExampleCase(
      method: "Convert", name: "", requestPath: "-", requestJSON: "{}", expectedStatus: "OK",
      expectedField: nil, expectedValues: [("quantity.value", .number(10, tolerance: 0.01)), ("items[1].name", .string("b"))])
    #expect(example.mismatches(responseJSON: #"{"quantity":{"value":10.005},"items":[{},{"name":"b"}]}"#, status: "OK", field: nil).isEmpty)
    #expect(example.mismatches(responseJSON: #"{"quantity":{"value":10.5},"items":[{},{"name":"b"}]}"#, status: "OK", field: nil).count == 1)
    #expect(example.mismatches(responseJSON: nil, status: "INVALID_ARGUMENT", field: "x").count == 1)
  }
}

/// The repository root, from this file's path.
func repositoryRoot(file: String = #filePath) -> String {
  URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
}

final class Counter: @unchecked Sendable {
  private let lock = NSLock()
  private var count = 0
  /// Increments and returns the new value.
  func increment() -> Int { lock.withLock { count += 1; return count } }
  var value: Int { lock.withLock { count } }
}

/// Where a module's library lives, loaded from disk or from the host's sealed private copy.
@Suite("Plugin image")
struct PluginImageTests {
  @Test func theHostsPrivateCopyNamesTheRealFile() {
    #expect(PluginImage.realPath(ofMapping: "/memfd:carbonhub:/opt/plugins/libALDO.so (deleted)") == "/opt/plugins/libALDO.so")
    #expect(PluginImage.realPath(ofMapping: "/opt/plugins/libALDO.so") == "/opt/plugins/libALDO.so")
    // An anonymous mapping or another program's memfd names no file.
    #expect(PluginImage.realPath(ofMapping: "[heap]") == nil)
    #expect(PluginImage.realPath(ofMapping: "/memfd:other (deleted)") == nil)
  }

  @Test func theTestBinaryIsFoundFromItsOwnCode() throws {
    let path = try #require(PluginImage.path())
    #expect(FileManager.default.isExecutableFile(atPath: path), "\(path)")
    #expect(PluginImage.directory() == (path as NSString).deletingLastPathComponent)
  }
}

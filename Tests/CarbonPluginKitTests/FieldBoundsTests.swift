import CarbonDomain
@testable import CarbonPluginKit
import CarbonPluginTesting
import ExampleUnitsModule
import Foundation
import SwiftProtobuf
import Testing

/// Issue 20 point 1: "Every numeric input has a documented physical range (areas, masses, yields,
/// emissions …) checked by the kit's validation for every module". The ranges are declared in
/// the .proto files with `(carbon.domain.v1.bounds)`; the kit reads them from the module's
/// descriptor set and refuses a value outside before the method runs.
@Suite("Field bounds")
struct FieldBoundsTests {
  let convertPath = "/carbon.examples.v1.Units/Convert"
  let batchPath = "/carbon.examples.v1.Units/ConvertBatch"

  func request(_ value: Double) -> Carbon_Examples_V1_ConvertRequest {
    var request = Carbon_Examples_V1_ConvertRequest()
    request.quantity = Quantity(value, .t)
    request.targetUnit = .kg
    return request
  }

  @Test func theRangesAreReadFromTheModulesDescriptorSet() throws {
    let bounds = try FieldBounds(descriptorSet: UnitsModule.descriptorSet)
    // units.proto: `double value = 1 [(carbon.domain.v1.bounds) = { min: -1e15, max: 1e15 }]`
    let rule = try #require(bounds.rules["carbon.domain.v1.Quantity"]?[1])
    #expect(rule.name == "value")
    #expect(rule.bounds.min == -1e15 && rule.bounds.max == 1e15)
    // The request types lead to it, so the check descends through them …
    #expect(bounds.descents["carbon.examples.v1.ConvertRequest"]?[1]?.name == "quantity")
    #expect(bounds.descents["carbon.examples.v1.ConvertBatchRequest"]?[1]?.repeated == true)
    // … and skips types with nothing ranged below them.
    #expect(bounds.covers("carbon.domain.v1.CalculationTrace") == false)
  }

  /// The issue's reproduction: a magnitude of 1e308 overflows in any conversion. It is refused
  /// as INVALID_ARGUMENT naming the field and its range, in protobuf and in JSON, before the
  /// method runs (the module's own answer would be OUT_OF_RANGE on the result).
  @Test func aValueOutsideItsRangeIsRefusedNamingTheField() throws {
    let units = try ModuleHarness<UnitsModule>()
    let error = #expect(throws: ModuleError.self) {
      try units.call(convertPath, request(1e308), as: Carbon_Examples_V1_ConvertResponse.self)
    }
    #expect(error?.status == .invalidArgument)
    #expect(error?.field == "quantity.value")
    #expect(error?.message == "quantity.value: must be between -1e+15 and 1e+15, got 1e+308")
    let json = #expect(throws: ModuleError.self) {
      try units.callJSON(convertPath, #"{"quantity": {"value": -2e15, "unit": "UNIT_T"}, "target_unit": "UNIT_KG"}"#)
    }
    #expect(json?.field == "quantity.value")
    #expect(json?.message.hasSuffix("got -2e+15") == true)
    // The bounds are inclusive: 1e15 itself is converted.
    let edge = try units.call(convertPath, request(1e15), as: Carbon_Examples_V1_ConvertResponse.self)
    #expect(edge.quantity.value == 1e18)
  }

  /// NaN compares false with everything: it must not slip between the bounds.
  @Test func notANumberAndInfinitiesAreOutsideEveryRange() throws {
    let units = try ModuleHarness<UnitsModule>()
    for value in [Double.nan, .infinity, -.infinity] {
      let error = #expect(throws: ModuleError.self) {
        try units.call(convertPath, request(value), as: Carbon_Examples_V1_ConvertResponse.self)
      }
      #expect(error?.field == "quantity.value", "\(value)")
      #expect(error?.message.contains("must be between") == true, "\(value)")
    }
  }

  /// Paths carry the index of a repeated message, as the modules' own checks write them.
  @Test func theFieldPathHoldsTheIndexOfARepeatedItem() throws {
    let units = try ModuleHarness<UnitsModule>()
    var batch = Carbon_Examples_V1_ConvertBatchRequest()
    batch.items = [request(1), request(2), request(3e20)]
    let error = #expect(throws: ModuleError.self) {
      try units.stream(batchPath, batch, as: Carbon_Examples_V1_ConvertResponse.self)
    }
    #expect(error?.field == "items[2].quantity.value")
  }

  /// In a bidirectional stream, the request's position prefixes the path.
  @Test func aStreamedRequestIsNamedByItsPosition() throws {
    let bounds = FieldBounds.of(UnitsModule.self)
    var pending: [[UInt8]] = try [request(1), request(1e16)].map { try $0.serializedBytes() }
    let stream = RequestStream<Carbon_Examples_V1_ConvertRequest>(
      receiveBytes: { pending.isEmpty ? .end : .message(pending.removeFirst()) }, encoding: .protobuf, bounds: bounds)
    #expect(try stream.next()?.quantity.value == 1)
    let error = #expect(throws: ModuleError.self) { try stream.next() }
    #expect(error?.field == "requests[1].quantity.value")
  }

  /// "A field left unset reads 0 and is not checked" (bounds.proto): proto3 cannot tell an
  /// unset field from 0, and the module's own presence checks answer for it.
  @Test func anUnsetFieldIsNotChecked() throws {
    let message = try FieldBounds(descriptorSet: UnitsModule.descriptorSet)
    var empty = Carbon_Examples_V1_ConvertRequest()
    empty.targetUnit = .kg
    try message.check(empty)
  }

  /// Bounds print as a reader writes them: integers without ".0".
  @Test func numbersInTheMessage() {
    #expect(Carbon_Domain_V1_Bounds.printed(100_000) == "100000")
    #expect(Carbon_Domain_V1_Bounds.printed(0.35) == "0.35")
    #expect(Carbon_Domain_V1_Bounds.printed(-3) == "-3")
    #expect(Carbon_Domain_V1_Bounds.printed(1e15) == "1e+15")
    // The value exactly as received, never rounded to look like another one.
    #expect(Carbon_Domain_V1_Bounds.printed(0.1 + 0.2) == "0.30000000000000004")
    #expect(Carbon_Domain_V1_Bounds.printed(-1e15) == "-1e+15")
    #expect(Carbon_Domain_V1_Bounds.printed(250_000) == "250000")
    #expect(Carbon_Domain_V1_Bounds.printed(.nan) == "nan")
    #expect(Carbon_Domain_V1_Bounds.printed(-.infinity) == "-inf")
  }
}

import CarbonDomain
import Foundation
import SwiftProtobuf
import Testing

/// Issue 20 point 1: "Every numeric input has a documented physical range". A lint over the
/// descriptor set of every Swift plugin of the repository (what the kit enforces from): each
/// numeric field a request can reach declares `(carbon.domain.v1.bounds)` with finite bounds in
/// order and a unit, so a new field without a range fails here rather than reaching a formula.
@Suite("Proto lint: numeric request fields have bounds")
struct ProtoBoundsLintTests {
  static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().path

  /// Unit-free on purpose: a quantity whose unit travels beside it (`Quantity.unit`).
  static let unitFree: Set<String> = ["carbon.domain.v1.Quantity.value"]

  /// Every `Generated/descriptor_set.binpb` beside a `protos.list` under Plugins/.
  static func pluginDescriptorSets() throws -> [String] {
    let plugins = repositoryRoot + "/Plugins"
    let walker = FileManager.default.enumerator(atPath: plugins)
    var found: [String] = []
    while let path = walker?.nextObject() as? String {
      if path.hasSuffix("/protos.list") {
        found.append(plugins + "/" + (path as NSString).deletingLastPathComponent + "/Generated/descriptor_set.binpb")
      }
    }
    return found.sorted()
  }

  /// The problems of one descriptor set: "type.field: what is wrong".
  static func problems(in descriptorSet: [UInt8]) throws -> [String] {
    let set = try Google_Protobuf_FileDescriptorSet(serializedBytes: descriptorSet, extensions: carbonFieldOptionExtensions)
    var messages: [String: Google_Protobuf_DescriptorProto] = [:]
    set.forEachMessage { name, message in messages["." + name] = message }
    let inputs = set.file.flatMap { $0.service.flatMap { $0.method.map(\.inputType) } }
    let numeric: Set<Google_Protobuf_FieldDescriptorProto.TypeEnum> = [
      .double, .float, .int32, .int64, .uint32, .uint64, .sint32, .sint64, .fixed32, .fixed64, .sfixed32, .sfixed64,
    ]
    var problems: [String] = []
    var seen: Set<String> = []
    func walk(_ type: String) {
      guard seen.insert(type).inserted, let message = messages[type] else { return }
      for field in message.field {
        let name = String(type.dropFirst()) + "." + field.name
        if field.options.Carbon_Domain_V1_boundsCheckedPerItem
          && (field.label != .repeated || field.type != .message)
        {
          problems.append("\(name): bounds_checked_per_item is for repeated message fields")
        }
        if numeric.contains(field.type) {
          guard field.options.hasCarbon_Domain_V1_bounds else {
            problems.append("\(name): no (carbon.domain.v1.bounds)")
            continue
          }
          let bounds = field.options.Carbon_Domain_V1_bounds
          if !(bounds.min.isFinite && bounds.max.isFinite && bounds.min < bounds.max) {
            problems.append("\(name): bounds [\(bounds.min), \(bounds.max)] are not finite and in order")
          }
          if bounds.unit.isEmpty && !unitFree.contains(name) { problems.append("\(name): bounds without a unit") }
        } else if field.type == .message {
          walk(field.typeName)
        }
      }
    }
    for input in inputs { walk(input) }
    return problems
  }

  @Test func everyNumericRequestFieldOfEveryPluginHasBounds() throws {
    let sets = try Self.pluginDescriptorSets()
    #expect(sets.count >= 6, "the five modules and the Swift example: \(sets)")
    for path in sets {
      let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
      let problems = try Self.problems(in: bytes)
      #expect(problems.isEmpty, "\(path):\n\(problems.joined(separator: "\n"))")
    }
  }

  /// The lint itself finds a field without bounds (it cannot pass by walking nothing).
  @Test func theLintFindsAFieldWithoutBounds() throws {
    var file = Google_Protobuf_FileDescriptorProto()
    file.name = "lint.proto"
    file.package = "lint.v1"
    var request = Google_Protobuf_DescriptorProto()
    request.name = "Request"
    let area = descriptorField("area_ha", number: 1, type: .double)
    var year = descriptorField("year", number: 2, type: .int32)
    var bounds = Carbon_Domain_V1_Bounds()
    bounds.min = 1900
    bounds.max = 2200
    bounds.unit = "year"
    year.options.Carbon_Domain_V1_bounds = bounds
    request.field = [area, year]
    var method = Google_Protobuf_MethodDescriptorProto()
    method.name = "Call"
    method.inputType = ".lint.v1.Request"
    method.outputType = ".lint.v1.Request"
    var service = Google_Protobuf_ServiceDescriptorProto()
    service.name = "Lint"
    service.method = [method]
    file.messageType = [request]
    file.service = [service]
    var set = Google_Protobuf_FileDescriptorSet()
    set.file = [file]
    #expect(try Self.problems(in: try set.serializedBytes()) == ["lint.v1.Request.area_ha: no (carbon.domain.v1.bounds)"])
  }
}

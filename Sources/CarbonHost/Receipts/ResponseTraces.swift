import CarbonDomain
import CarbonPluginLoader
import SwiftProtobuf

/// Where a module's responses carry their calculation traces (`carbon.domain.v1.CalculationTrace`),
/// read once from its descriptor set, and the traces read out of response bytes with it.
///
/// A receipt states the methodology and the reference data sets a result was computed with; the
/// module already names them in its trace, inside its own response message. The host compiles
/// no module's types, so it finds the trace the way a generic client would: by the descriptors.
/// Only the fields that lead to a trace are walked, so a response without one costs a lookup.
struct ResponseTraces: Sendable {
  /// One field on the way to a trace: its number and names, and the message type it holds.
  struct Step: Sendable {
    let number: Int32
    /// The .proto name and the JSON (lowerCamelCase) name: a JSON response may use either.
    let name: String
    let jsonName: String
    /// The field's message type (`.carbon.esca.v1.Result`), or nil when it is the trace itself.
    let type: String?
  }

  static let traceType = ".carbon.domain.v1.CalculationTrace"

  /// Message type → the fields of it that hold a trace or lead to one.
  private let steps: [String: [Step]]
  /// Method path → its response type, for the methods whose responses can hold a trace.
  private let responseTypes: [String: String]

  /// No method's response holds a trace.
  static let none = ResponseTraces(steps: [:], responseTypes: [:])

  private init(steps: [String: [Step]], responseTypes: [String: String]) {
    self.steps = steps
    self.responseTypes = responseTypes
  }

  /// Reads the paths to traces of every method in `descriptorSet`; an unreadable set has none.
  init(descriptorSet: [UInt8]) {
    guard let set = try? Google_Protobuf_FileDescriptorSet(serializedBytes: descriptorSet) else {
      self = .none
      return
    }
    var messages: [String: Google_Protobuf_DescriptorProto] = [:]
    set.forEachMessage { name, message in messages["." + name] = message }
    // Which types lead to a trace: a fixed point over the message graph (recursive types are
    // fine: a type joins the set once one of its fields leads to a member of it).
    var leading: Set<String> = [Self.traceType]
    var changed = true
    while changed {
      changed = false
      for (type, message) in messages where !leading.contains(type) {
        if message.field.contains(where: { $0.type == .message && leading.contains($0.typeName) }) {
          leading.insert(type)
          changed = true
        }
      }
    }
    var steps: [String: [Step]] = [:]
    for type in leading where type != Self.traceType {
      steps[type] = messages[type]?.field.compactMap { field in
        guard field.type == .message, leading.contains(field.typeName) else { return nil }
        return Step(
          number: field.number, name: field.name, jsonName: field.hasJsonName ? field.jsonName : field.name,
          type: field.typeName == Self.traceType ? nil : field.typeName)
      }
    }
    var responseTypes: [String: String] = [:]
    for file in set.file {
      for service in file.service {
        let serviceName = file.package.isEmpty ? service.name : file.package + "." + service.name
        for method in service.method where leading.contains(method.outputType) {
          responseTypes["/\(serviceName)/\(method.name)"] = method.outputType
        }
      }
    }
    self.init(steps: steps, responseTypes: responseTypes)
  }

  /// What a trace states that a receipt repeats: the methodology and the data sets.
  struct Statement: Sendable, Equatable {
    struct DataSet: Sendable, Equatable {
      var name = ""
      var version = ""
    }
    var method = ""
    var methodVersion = ""
    var dataSets: [DataSet] = []
  }

  /// The statements of the traces in one response of the method at `path`, in the order they
  /// appear; empty when its response type holds none or the bytes cannot be read (a receipt then
  /// names no data set; it still proves the bytes). Read straight from the bytes (no message is
  /// decoded): it runs on every call that signs a receipt.
  func statements(in response: [UInt8], method path: String, encoding: WireEncoding) -> [Statement] {
    guard let type = responseTypes[path] else { return [] }
    var found: [Statement] = []
    switch encoding {
    case .protobuf:
      collect(protobuf: response[...], type: type, depth: 0, into: &found)
    case .json:
      guard let value = try? JSONValue(parsing: response) else { return [] }
      collect(json: value, type: type, depth: 0, into: &found)
    }
    return found
  }

  private func collect(protobuf bytes: ArraySlice<UInt8>, type: String, depth: Int, into found: inout [Statement]) {
    guard depth < 32, let fields = steps[type] else { return }
    var reader = WireFields(bytes)
    while let (number, body) = reader.next() {
      guard let body, let step = fields.first(where: { $0.number == number }) else { continue }
      if let inner = step.type {
        collect(protobuf: body, type: inner, depth: depth + 1, into: &found)
      } else {
        found.append(Self.statement(protobuf: body))
      }
    }
  }

  /// `carbon.domain.v1.CalculationTrace`: method = 1, method_version = 2, data_sets = 4
  /// (`DataSetVersion`: name = 1, version = 2); the other fields are skipped.
  private static func statement(protobuf trace: ArraySlice<UInt8>) -> Statement {
    func text(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }
    var statement = Statement()
    var fields = WireFields(trace)
    while let (number, body) = fields.next() {
      guard let body else { continue }
      switch number {
      case 1: statement.method = text(body)
      case 2: statement.methodVersion = text(body)
      case 4:
        var dataSet = Statement.DataSet()
        var inner = WireFields(body)
        while let (number, value) = inner.next() {
          guard let value else { continue }
          switch number {
          case 1: dataSet.name = text(value)
          case 2: dataSet.version = text(value)
          default: break
          }
        }
        statement.dataSets.append(dataSet)
      default: break
      }
    }
    return statement
  }

  private func collect(json value: JSONValue, type: String, depth: Int, into found: inout [Statement]) {
    guard depth < 32, let fields = steps[type], let members = value.members else { return }
    for member in members {
      guard let step = fields.first(where: { $0.jsonName == member.key || $0.name == member.key }) else { continue }
      // A repeated field is an array of the same messages.
      for element in member.value.elements ?? [member.value] {
        if let inner = step.type {
          collect(json: element, type: inner, depth: depth + 1, into: &found)
        } else {
          found.append(Self.statement(json: element))
        }
      }
    }
  }

  /// The same from the trace's proto3 JSON (either the JSON or the .proto names).
  private static func statement(json trace: JSONValue) -> Statement {
    func text(_ value: JSONValue?, _ names: String...) -> String {
      for name in names { if case .string(let text)? = value?[name] { return text } }
      return ""
    }
    var statement = Statement(
      method: text(trace, "method"), methodVersion: text(trace, "methodVersion", "method_version"))
    for dataSet in (trace["dataSets"] ?? trace["data_sets"])?.elements ?? [] {
      statement.dataSets.append(
        .init(name: text(dataSet, "name"), version: text(dataSet, "version")))
    }
    return statement
  }
}

/// The top-level fields of protobuf bytes, in order: each field's number, and its body when it
/// is length-delimited (nil for varint and fixed-width fields). Stops at the first malformed byte.
struct WireFields {
  private let bytes: ArraySlice<UInt8>
  private var index: Int

  init(_ bytes: ArraySlice<UInt8>) {
    self.bytes = bytes
    index = bytes.startIndex
  }

  mutating func next() -> (number: Int32, body: ArraySlice<UInt8>?)? {
    guard index < bytes.endIndex, let key = varint() else { return nil }
    let number = Int32(truncatingIfNeeded: key >> 3)
    switch key & 7 {
    case 0:
      guard varint() != nil else { return nil }
      return (number, nil)
    case 1:
      guard bytes.endIndex - index >= 8 else { return nil }
      index += 8
      return (number, nil)
    case 5:
      guard bytes.endIndex - index >= 4 else { return nil }
      index += 4
      return (number, nil)
    case 2:
      guard let length = varint(), length <= UInt64(bytes.endIndex - index) else { return nil }
      let body = bytes[index..<index + Int(length)]
      index += Int(length)
      return (number, body)
    default:
      return nil  // groups: not in any module's protos
    }
  }

  private mutating func varint() -> UInt64? { JSONToProtobuf.readVarint(bytes, &index) }
}

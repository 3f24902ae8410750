import CarbonDomain
import Foundation
import SwiftProtobuf

/// Writes protobuf bytes as proto3 JSON using only a plugin's embedded descriptor set: the
/// reverse of `JSONToProtobuf`, so that the host can serve JSON callers of a module that reads
/// and writes protobuf only (a C module built on protobuf-c, which has no JSON).
///
/// Field names are the proto names (`total_co2e_kg`), as the product's modules write them;
/// fields at their default value are left out, except members of a oneof and `optional`
/// fields that are set; 64-bit integers are strings, enums their value names, bytes base64,
/// non-finite doubles "NaN"/"Infinity"/"-Infinity", maps JSON objects. Fields of numbers the
/// descriptor does not know are skipped. The well-known types' JSON forms (Timestamp, Struct…)
/// are refused with a message, as `JSONToProtobuf` refuses them.
public struct ProtobufToJSON: Sendable {
  /// Why bytes could not be written as JSON; `path` names the field.
  public struct DecodingError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
  }

  /// How the JSON is written beyond the defaults above (the HTTP gateway's query flags).
  public struct Options: Sendable, Equatable {
    /// The JSON names (`totalCo2eKg`, proto3 JSON's canonical form) instead of the proto names.
    public var jsonNames = false
    /// Fields at their default value written too: scalars and enums as their zero, repeated
    /// fields as `[]`, maps as `{}` (not unset messages, not members of a oneof).
    public var emitDefaults = false

    public init(jsonNames: Bool = false, emitDefaults: Bool = false) {
      self.jsonNames = jsonNames
      self.emitDefaults = emitDefaults
    }
  }

  private let schema: JSONToProtobuf
  private let enumNames: [String: [Int32: String]]
  /// How names and defaults are written.
  public var options = Options()

  /// Nesting deeper than this is refused (a hostile message cannot exhaust the stack).
  static let maximumDepth = 100

  /// Indexes the messages and enums of a serialized FileDescriptorSet.
  public init(descriptorSet: [UInt8]) throws {
    self.init(schema: try JSONToProtobuf(descriptorSet: descriptorSet))
  }

  /// Uses the message and enum index of a `JSONToProtobuf` already built from the same
  /// descriptor set (the two directions of one module share it).
  public init(schema: JSONToProtobuf) {
    self.schema = schema
    enumNames = schema.enums.mapValues { values in
      Dictionary(values.map { ($0.value, $0.key) }, uniquingKeysWith: { first, _ in first })
    }
  }

  /// The JSON of the response message of the method at `path`.
  public func encodeResponse(protobuf: [UInt8], method path: String) throws -> [UInt8] {
    guard let type = schema.outputTypes[path] else {
      throw DecodingError(path: "", message: "the descriptor set declares no method \(path)")
    }
    return try json(protobuf: protobuf, type: type)
  }

  /// The JSON of `bytes` read as the message `type` (".carbon.examples.v1.ToCo2eResponse").
  public func json(protobuf bytes: [UInt8], type: String) throws -> [UInt8] {
    var out: [UInt8] = []
    try bytes.withUnsafeBufferPointer { buffer in
      try writeMessage(buffer[...], type: type, path: "", depth: 0, into: &out)
    }
    return out
  }

  // MARK: - Reading the wire format

  private enum WireValue {
    case varint(UInt64)
    case fixed64(UInt64)
    case fixed32(UInt32)
    case bytes(Slice<UnsafeBufferPointer<UInt8>>)
  }

  private struct Reader {
    var bytes: Slice<UnsafeBufferPointer<UInt8>>
    let path: String

    var isAtEnd: Bool { bytes.isEmpty }

    mutating func varint() throws -> UInt64 {
      var value: UInt64 = 0
      var shift: UInt64 = 0
      while let byte = bytes.first {
        bytes = bytes.dropFirst()
        guard shift < 64 else { break }
        value |= UInt64(byte & 0x7F) << shift
        if byte & 0x80 == 0 { return value }
        shift += 7
      }
      throw DecodingError(path: path, message: "truncated or overlong varint")
    }

    mutating func take(_ count: Int) throws -> Slice<UnsafeBufferPointer<UInt8>> {
      guard count >= 0, bytes.count >= count else { throw DecodingError(path: path, message: "truncated field") }
      let taken = bytes.prefix(count)
      bytes = bytes.dropFirst(count)
      return taken
    }

    mutating func littleEndian<T: FixedWidthInteger>(_: T.Type) throws -> T {
      let raw = try take(MemoryLayout<T>.size)
      return raw.reversed().reduce(T(0)) { $0 << 8 | T($1) }
    }

    /// The next field: its number and value.
    mutating func field() throws -> (number: Int32, value: WireValue) {
      let key = try varint()
      let number = Int32(truncatingIfNeeded: key >> 3)
      guard number > 0 else { throw DecodingError(path: path, message: "field number 0") }
      switch key & 7 {
      case 0: return (number, .varint(try varint()))
      case 1: return (number, .fixed64(try littleEndian(UInt64.self)))
      case 2:
        let length = try varint()
        guard length <= UInt64(bytes.count) else { throw DecodingError(path: path, message: "truncated field \(number)") }
        return (number, .bytes(try take(Int(length))))
      case 5: return (number, .fixed32(try littleEndian(UInt32.self)))
      default: throw DecodingError(path: path, message: "unsupported wire type \(key & 7) for field \(number)")
      }
    }
  }

  // MARK: - Writing JSON

  private func writeMessage(
    _ bytes: Slice<UnsafeBufferPointer<UInt8>>, type: String, path: String, depth: Int, into out: inout [UInt8]
  ) throws {
    guard depth < Self.maximumDepth else { throw DecodingError(path: path, message: "nested deeper than \(Self.maximumDepth) messages") }
    guard let descriptor = schema.messages[type] else {
      throw DecodingError(path: path, message: "message type \(JSONToProtobuf.name(type)) is not in the descriptor set (well-known types' JSON forms are not supported)")
    }
    // Every occurrence of every known field, in wire order.
    var values: [Int32: [WireValue]] = [:]
    var reader = Reader(bytes: bytes, path: path)
    while !reader.isAtEnd {
      let (number, value) = try reader.field()
      values[number, default: []].append(value)
    }
    out.append(UInt8(ascii: "{"))
    var first = true
    for field in descriptor.field {
      guard let occurrences = values[field.number], let last = occurrences.last else {
        if options.emitDefaults, let literal = defaultOfAbsent(field) {
          if !first { out.append(UInt8(ascii: ",")) }
          first = false
          Self.string(name(of: field), into: &out)
          out.append(UInt8(ascii: ":"))
          out += literal
        }
        continue
      }
      let fieldPath = path.isEmpty ? field.name : path + "." + field.name
      var rendered: [UInt8] = []
      if let entry = schema.messages[field.typeName], entry.options.mapEntry {
        try writeMap(occurrences, entry: entry, path: fieldPath, depth: depth, into: &rendered)
      } else if field.label == .repeated {
        rendered.append(UInt8(ascii: "["))
        var count = 0
        for occurrence in occurrences {
          for element in try Self.unpack(occurrence, field, path: fieldPath) {
            if count > 0 { rendered.append(UInt8(ascii: ",")) }
            try writeValue(element, field, path: "\(fieldPath)[\(count)]", depth: depth, into: &rendered)
            count += 1
          }
        }
        rendered.append(UInt8(ascii: "]"))
      } else {
        // Proto3: a scalar at its default is not written unless the field tracks presence.
        let tracksPresence = field.hasOneofIndex || field.type == .message
        if !tracksPresence && !options.emitDefaults && Self.isDefault(last, field) { continue }
        try writeValue(last, field, path: fieldPath, depth: depth, into: &rendered)
      }
      if !first { out.append(UInt8(ascii: ",")) }
      first = false
      Self.string(name(of: field), into: &out)
      out.append(UInt8(ascii: ":"))
      out += rendered
    }
    out.append(UInt8(ascii: "}"))
  }

  /// The field's key in the JSON: its proto name, or its JSON name with `jsonNames`.
  private func name(of field: Google_Protobuf_FieldDescriptorProto) -> String {
    options.jsonNames ? JSONToProtobuf.jsonName(of: field) : field.name
  }

  /// What `emitDefaults` writes for a field the message does not hold; nil for one left out
  /// all the same (an unset message, a member of a oneof, a field that tracks presence).
  private func defaultOfAbsent(_ field: Google_Protobuf_FieldDescriptorProto) -> [UInt8]? {
    if field.label == .repeated { return Array((schema.messages[field.typeName]?.options.mapEntry == true ? "{}" : "[]").utf8) }
    if field.type == .message || field.hasOneofIndex { return nil }
    return Self.defaultLiteral(field, enumNames: enumNames)
  }

  private func writeMap(
    _ entries: [WireValue], entry: Google_Protobuf_DescriptorProto, path: String, depth: Int, into out: inout [UInt8]
  ) throws {
    guard let keyField = entry.field.first(where: { $0.number == 1 }), let valueField = entry.field.first(where: { $0.number == 2 }) else {
      throw DecodingError(path: path, message: "malformed map entry type")
    }
    out.append(UInt8(ascii: "{"))
    for (index, wire) in entries.enumerated() {
      guard case .bytes(let bytes) = wire else { throw DecodingError(path: path, message: "a map entry must be length-delimited") }
      var reader = Reader(bytes: bytes, path: path)
      var key: WireValue?
      var value: WireValue?
      while !reader.isAtEnd {
        let (number, item) = try reader.field()
        if number == 1 { key = item } else if number == 2 { value = item }
      }
      var keyText: [UInt8] = []
      if let key {
        try writeValue(key, keyField, path: path, depth: depth, into: &keyText)
      } else {
        keyText = Self.defaultLiteral(keyField, enumNames: enumNames)
      }
      if index > 0 { out.append(UInt8(ascii: ",")) }
      // Keys are strings in JSON: numbers and booleans are quoted, strings already are.
      if keyText.first == UInt8(ascii: "\"") { out += keyText } else { Self.string(String(decoding: keyText, as: UTF8.self), into: &out) }
      out.append(UInt8(ascii: ":"))
      if let value {
        try writeValue(value, valueField, path: "\(path)[\(String(decoding: keyText, as: UTF8.self))]", depth: depth, into: &out)
      } else {
        out += Self.defaultLiteral(valueField, enumNames: enumNames)
      }
    }
    out.append(UInt8(ascii: "}"))
  }

  /// Splits a packed repeated scalar into its elements; other values stand alone.
  private static func unpack(_ value: WireValue, _ field: Google_Protobuf_FieldDescriptorProto, path: String) throws -> [WireValue] {
    guard case .bytes(let bytes) = value, ![.string, .bytes, .message, .group].contains(field.type) else { return [value] }
    var reader = Reader(bytes: bytes, path: path)
    var elements: [WireValue] = []
    while !reader.isAtEnd {
      switch field.type {
      case .double, .fixed64, .sfixed64: elements.append(.fixed64(try reader.littleEndian(UInt64.self)))
      case .float, .fixed32, .sfixed32: elements.append(.fixed32(try reader.littleEndian(UInt32.self)))
      default: elements.append(.varint(try reader.varint()))
      }
    }
    return elements
  }

  private static func isDefault(_ value: WireValue, _ field: Google_Protobuf_FieldDescriptorProto) -> Bool {
    switch value {
    case .varint(let raw): return raw == 0
    case .fixed64(let raw): return field.type == .double ? Double(bitPattern: raw) == 0 && raw >> 63 == 0 : raw == 0
    case .fixed32(let raw): return field.type == .float ? Float(bitPattern: raw) == 0 && raw >> 31 == 0 : raw == 0
    case .bytes(let bytes): return bytes.isEmpty && field.type != .message
    }
  }

  /// The JSON of a field at its default value (a map entry that leaves out its key or value).
  private static func defaultLiteral(_ field: Google_Protobuf_FieldDescriptorProto, enumNames: [String: [Int32: String]]) -> [UInt8] {
    switch field.type {
    case .message: return Array("{}".utf8)
    case .string, .bytes: return Array("\"\"".utf8)
    case .bool: return Array("false".utf8)
    case .int64, .uint64, .sint64, .fixed64, .sfixed64: return Array("\"0\"".utf8)
    case .enum:
      var out: [UInt8] = []
      if let name = enumNames[field.typeName]?[0] { string(name, into: &out) } else { out = Array("0".utf8) }
      return out
    default: return Array("0".utf8)
    }
  }

  private func writeValue(
    _ value: WireValue, _ field: Google_Protobuf_FieldDescriptorProto, path: String, depth: Int, into out: inout [UInt8]
  ) throws {
    func mismatch() -> DecodingError {
      DecodingError(path: path, message: "wire type does not match the field's type \(field.type)")
    }
    switch (field.type, value) {
    case (.double, .fixed64(let raw)): Self.number(Double(bitPattern: raw), into: &out)
    case (.float, .fixed32(let raw)): Self.number(Double(Float(bitPattern: raw)), floatPrecision: true, into: &out)
    case (.int64, .varint(let raw)), (.sfixed64, .fixed64(let raw)): Self.string(String(Int64(bitPattern: raw)), into: &out)
    case (.uint64, .varint(let raw)), (.fixed64, .fixed64(let raw)): Self.string(String(raw), into: &out)
    case (.sint64, .varint(let raw)): Self.string(String(Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)), into: &out)
    case (.int32, .varint(let raw)): out += Array(String(Int32(truncatingIfNeeded: raw)).utf8)
    case (.sfixed32, .fixed32(let raw)): out += Array(String(Int32(bitPattern: raw)).utf8)
    case (.uint32, .varint(let raw)): out += Array(String(UInt32(truncatingIfNeeded: raw)).utf8)
    case (.fixed32, .fixed32(let raw)): out += Array(String(raw).utf8)
    case (.sint32, .varint(let raw)):
      let narrow = UInt32(truncatingIfNeeded: raw)
      out += Array(String(Int32(bitPattern: narrow >> 1) ^ -Int32(bitPattern: narrow & 1)).utf8)
    case (.bool, .varint(let raw)): out += Array((raw != 0 ? "true" : "false").utf8)
    case (.enum, .varint(let raw)):
      let number = Int32(truncatingIfNeeded: raw)
      if let name = enumNames[field.typeName]?[number] { Self.string(name, into: &out) } else { out += Array(String(number).utf8) }
    case (.string, .bytes(let bytes)):
      guard let text = String(validating: bytes, as: UTF8.self) else {
        throw DecodingError(path: path, message: "a string field holds invalid UTF-8")
      }
      Self.string(text, into: &out)
    case (.bytes, .bytes(let bytes)): Self.string(Data(bytes).base64EncodedString(), into: &out)
    case (.message, .bytes(let bytes)): try writeMessage(bytes, type: field.typeName, path: path, depth: depth + 1, into: &out)
    default: throw mismatch()
    }
  }

  /// A double as JSON: the shortest text that reads back to the same value; non-finite values
  /// as proto3 JSON's strings.
  private static func number(_ value: Double, floatPrecision: Bool = false, into out: inout [UInt8]) {
    if value.isNaN { return string("NaN", into: &out) }
    if value.isInfinite { return string(value < 0 ? "-Infinity" : "Infinity", into: &out) }
    // Integral values without Swift's ".0" (as SwiftProtobuf writes them: 28, not 28.0).
    if value == value.rounded(), abs(value) < 1e15 {
      out += Array((value == 0 && value.sign == .minus ? "-0" : String(Int64(value))).utf8)
      return
    }
    out += Array((floatPrecision ? "\(Float(value))" : "\(value)").utf8)
  }

  /// A JSON string literal (the domain's one writer, so both directions escape alike).
  static func string(_ text: String, into out: inout [UInt8]) { JSONValue.writeString(text, into: &out) }
}

import CarbonDomain
import Foundation
import SwiftProtobuf

/// Encodes a proto3 JSON request as protobuf bytes using only a plugin's embedded descriptor
/// set: the host side never compiles a plugin's message types, yet the load generator and the
/// fuzzer need the sample requests (JSON files) in the binary form the gRPC routes carry.
///
/// Covers what the modules' protos use: scalars, enums (by name or number), nested and
/// repeated messages, oneofs, 64-bit integers given as strings, "NaN"/"Infinity" doubles.
/// Maps and the well-known JSON forms (Timestamp, Struct...) are refused with a message.
public struct JSONToProtobuf: Sendable {
  /// Why a JSON request could not be encoded; `path` names the offending field.
  public struct EncodingError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    /// The request uses a form this encoder does not cover (maps, well-known JSON forms): it
    /// may be valid, so `diagnose` does not blame it.
    public var isUnsupported = false
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }

    init(path: String, message: String, isUnsupported: Bool = false) {
      self.path = path
      self.message = message
      self.isUnsupported = isUnsupported
    }
  }

  let messages: [String: Google_Protobuf_DescriptorProto]
  let enums: [String: [String: Int32]]
  private let inputTypes: [String: String]
  let outputTypes: [String: String]

  /// Indexes the message, enum and method types of a serialized FileDescriptorSet.
  public init(descriptorSet: [UInt8]) throws {
    // With our field options, so that a field's former name (`formerly`) can be read.
    let set = try Google_Protobuf_FileDescriptorSet(serializedBytes: descriptorSet, extensions: carbonFieldOptionExtensions)
    var messages: [String: Google_Protobuf_DescriptorProto] = [:]
    var enums: [String: [String: Int32]] = [:]
    var inputTypes: [String: String] = [:]
    var outputTypes: [String: String] = [:]
    set.forEachMessage { name, message in
      messages["." + name] = message
      for e in message.enumType { enums["." + name + "." + e.name] = Self.values(e) }
    }
    for file in set.file {
      let prefix = file.package.isEmpty ? "" : "." + file.package
      for e in file.enumType { enums[prefix + "." + e.name] = Self.values(e) }
      for service in file.service {
        for method in service.method {
          let path = "/\(file.package.isEmpty ? "" : file.package + ".")\(service.name)/\(method.name)"
          inputTypes[path] = method.inputType
          outputTypes[path] = method.outputType
        }
      }
    }
    self.messages = messages
    self.enums = enums
    self.inputTypes = inputTypes
    self.outputTypes = outputTypes
  }

  private static func values(_ e: Google_Protobuf_EnumDescriptorProto) -> [String: Int32] {
    Dictionary(e.value.map { ($0.name, $0.number) }, uniquingKeysWith: { first, _ in first })
  }

  /// A field's proto3 JSON name: the descriptor's `json_name` (protoc always fills it), else
  /// protoc's rule applied to its name.
  public static func jsonName(of field: Google_Protobuf_FieldDescriptorProto) -> String {
    field.hasJsonName ? field.jsonName : lowerCamelCase(field.name)
  }

  /// protoc's JSON name of a field name: "total_co2e_kg" → "totalCo2eKg".
  public static func lowerCamelCase(_ name: String) -> String {
    var result = ""
    var upperNext = false
    for character in name {
      if character == "_" {
        upperNext = true
      } else {
        result += upperNext ? character.uppercased() : String(character)
        upperNext = false
      }
    }
    return result
  }

  /// The request message type of a method path ("/carbon.examples.v1.Units/Convert"), as a
  /// fully qualified name with a leading dot.
  public func requestType(ofMethod path: String) -> String? { inputTypes[path] }

  /// The same without the leading dot, for messages ("carbon.esca.v1.SoilStockRequest"), or
  /// "request" for a method the descriptors do not declare.
  public func requestTypeName(ofMethod path: String) -> String {
    requestType(ofMethod: path).map { String($0.dropFirst()) } ?? "request"
  }

  /// Encodes the JSON request of the method at `path`.
  public func encodeRequest(json: [UInt8], method path: String) throws -> [UInt8] {
    try encode(json: json, type: requestTypeOrThrow(path))
  }

  /// Encodes the request of the method at `path`, already parsed (one of several a body held).
  public func encodeRequest(_ request: JSONValue, method path: String) throws -> [UInt8] {
    var out: [UInt8] = []
    try encodeMessage(request, type: try requestTypeOrThrow(path), path: "", into: &out)
    return out
  }

  private func requestTypeOrThrow(_ path: String) throws -> String {
    guard let type = inputTypes[path] else {
      throw EncodingError(path: "", message: "the descriptor set declares no method \(path)")
    }
    return type
  }

  /// What is wrong with the JSON request of the method at `path`, naming the field: a wrong
  /// type, an unknown field, an enum name the type lacks (with the valid ones), an array
  /// where an object belongs, or a syntax error with its position. Nil when the request is
  /// valid, or uses a form this encoder does not cover.
  ///
  /// The host asks it when a module refuses a JSON request without naming a field: protobuf
  /// libraries' JSON parsers report bare codes (`unrecognizedEnumValue`, `truncated`).
  public func diagnose(json: [UInt8], method path: String) -> EncodingError? {
    do {
      _ = try encodeRequest(json: json, method: path)
      return nil
    } catch let error as EncodingError {
      return error.isUnsupported ? nil : error
    } catch {
      return nil
    }
  }

  /// Encodes a JSON object as the message `type` (".carbon.examples.v1.ConvertRequest").
  public func encode(json: [UInt8], type: String) throws -> [UInt8] {
    // JSONValue, not JSONSerialization: numbers are read from their literal text, correctly
    // rounded (Foundation's parser on Linux is not).
    let object: JSONValue
    do {
      object = try JSONValue(parsing: json)
    } catch {
      throw EncodingError(path: "", message: "the request is not valid JSON: \(error)")
    }
    var out: [UInt8] = []
    try encodeMessage(object, type: type, path: "", into: &out)
    return out
  }

  private func encodeMessage(_ value: JSONValue, type: String, path: String, into out: inout [UInt8]) throws {
    guard let descriptor = messages[type] else {
      // Well-known types (Timestamp, Struct …) have JSON forms of their own.
      throw EncodingError(path: path, message: "message type \(type) is not in the descriptor set", isUnsupported: true)
    }
    guard let members = value.members else {
      throw EncodingError(path: path, message: "expected a JSON object (\(Self.name(type))), got \(Self.describe(value))")
    }
    // In key order, the last of duplicate keys winning (as JSONSerialization did).
    var object: [String: JSONValue] = [:]
    for member in members { object[member.key] = member.value }
    // The key that set each field number and each oneof: proto3 JSON parsers reject a field given
    // twice (by its JSON and its .proto name) and two members of one oneof, rather than let the
    // last one silently win (SwiftProtobuf's own JSON reader does the same).
    var setFields: [Int32: String] = [:]
    var setOneofs: [Int32: String] = [:]
    for key in object.keys.sorted() {
      let fieldPath = path.isEmpty ? key : path + "." + key
      // A renamed field's former name (`(carbon.domain.v1.formerly)`) is accepted for one release.
      guard
        let field = descriptor.field.first(where: { $0.name == key || Self.jsonName(of: $0) == key })
          ?? descriptor.field.first(where: { $0.options.Carbon_Domain_V1_formerly == key && !key.isEmpty })
      else {
        let known = descriptor.field.map(\.name)
        let list = known.count > 40 ? known.prefix(40).joined(separator: ", ") + ", …" : known.joined(separator: ", ")
        // A key that is not a plain name is quoted: it is client text, echoed.
        let shown = key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") } ? key : key.quoted
        throw EncodingError(
          path: path.isEmpty ? shown : path + "." + shown,
          message: "no such field in \(Self.name(type)) (its fields: \(list))")
      }
      let item = object[key]!
      if item == .null { continue }
      if let earlier = setFields.updateValue(key, forKey: field.number) {
        throw EncodingError(path: fieldPath, message: "field \(field.name) is given twice (as \(earlier) and \(key)); give it once")
      }
      if field.hasOneofIndex && !field.proto3Optional, Int(field.oneofIndex) < descriptor.oneofDecl.count {
        if let earlier = setOneofs.updateValue(key, forKey: field.oneofIndex) {
          throw EncodingError(
            path: fieldPath,
            message: "\(earlier) and \(key) are both set, but they are members of oneof \(descriptor.oneofDecl[Int(field.oneofIndex)].name): give one")
        }
      }
      if messages[field.typeName]?.options.mapEntry == true {
        throw EncodingError(path: fieldPath, message: "map fields are not supported", isUnsupported: true)
      }
      if field.label == .repeated {
        guard let array = item.elements else {
          throw EncodingError(path: fieldPath, message: "expected a JSON array, got \(Self.describe(item))")
        }
        for (index, element) in array.enumerated() {
          try encodeField(element, field, path: "\(fieldPath)[\(index)]", into: &out)
        }
      } else {
        try encodeField(item, field, path: fieldPath, into: &out)
      }
    }
  }

  private func encodeField(
    _ value: JSONValue, _ field: Google_Protobuf_FieldDescriptorProto, path: String, into out: inout [UInt8]
  ) throws {
    let number = UInt64(field.number)
    func key(_ wireType: UInt64) { Self.varint(number << 3 | wireType, into: &out) }
    switch field.type {
    case .double:
      key(1)
      withUnsafeBytes(of: try Self.double(value, path).bitPattern.littleEndian) { out += $0 }
    case .float:
      key(5)
      withUnsafeBytes(of: Float(try Self.double(value, path)).bitPattern.littleEndian) { out += $0 }
    case .int32, .int64, .uint32, .uint64:
      key(0)
      Self.varint(try Self.integer(value, path), into: &out)
    case .sint32, .sint64:
      key(0)
      let signed = Int64(bitPattern: try Self.integer(value, path))
      Self.varint(UInt64(bitPattern: (signed << 1) ^ (signed >> 63)), into: &out)
    case .fixed64, .sfixed64:
      key(1)
      withUnsafeBytes(of: try Self.integer(value, path).littleEndian) { out += $0 }
    case .fixed32, .sfixed32:
      key(5)
      withUnsafeBytes(of: UInt32(truncatingIfNeeded: try Self.integer(value, path)).littleEndian) { out += $0 }
    case .bool:
      guard case .bool(let flag) = value else {
        throw EncodingError(path: path, message: "expected true or false, got \(Self.describe(value))")
      }
      key(0)
      Self.varint(flag ? 1 : 0, into: &out)
    case .enum:
      key(0)
      if case .string(let name) = value {
        guard let values = enums[field.typeName] else {
          throw EncodingError(path: path, message: "enum \(field.typeName) is not in the descriptor set", isUnsupported: true)
        }
        guard let number = values[name] else {
          let valid = values.sorted { $0.value < $1.value }.map(\.key).joined(separator: ", ")
          throw EncodingError(path: path, message: "\(name.quoted) is not a value of \(Self.name(field.typeName)) (valid: \(valid))")
        }
        Self.varint(UInt64(bitPattern: Int64(number)), into: &out)
      } else {
        Self.varint(try Self.integer(value, path), into: &out)
      }
    case .string:
      guard case .string(let text) = value else {
        throw EncodingError(path: path, message: "expected a string, got \(Self.describe(value))")
      }
      key(2)
      Self.lengthDelimited(Array(text.utf8), into: &out)
    case .bytes:
      guard case .string(let text) = value, let data = Data(base64Encoded: text) else {
        throw EncodingError(path: path, message: "expected bytes as a base64 string, got \(Self.describe(value))")
      }
      key(2)
      Self.lengthDelimited(Array(data), into: &out)
    case .message:
      var inner: [UInt8] = []
      try encodeMessage(value, type: field.typeName, path: path, into: &inner)
      key(2)
      Self.lengthDelimited(inner, into: &out)
    default:
      throw EncodingError(path: path, message: "field type \(field.type) is not supported", isUnsupported: true)
    }
  }

  private static func double(_ value: JSONValue, _ path: String) throws -> Double {
    switch value {
    case .string("NaN"): return .nan
    case .string("Infinity"): return .infinity
    case .string("-Infinity"): return -.infinity
    case .string(let text): if let number = Double(text) { return number }
    case .number(let literal): if let number = Double(literal) { return number }
    default: break
    }
    throw EncodingError(path: path, message: "expected a number, got \(describe(value))")
  }

  /// Integers as proto3 JSON gives them: numbers (`3`, `3.0`, `3e2`), or decimal strings for
  /// 64-bit values. Negative values are sign-extended to 64 bits, as protobuf encodes int32
  /// and int64.
  private static func integer(_ value: JSONValue, _ path: String) throws -> UInt64 {
    let text: String
    switch value {
    case .string(let string): text = string
    case .number(let literal): text = literal
    default: throw EncodingError(path: path, message: "expected an integer, got \(describe(value))")
    }
    if let signed = Int64(text) { return UInt64(bitPattern: signed) }
    if let unsigned = UInt64(text) { return unsigned }
    // An integral value written with a fraction or an exponent.
    if case .number = value, let double = Double(text), double == double.rounded(), abs(double) < 0x1p63 {
      return UInt64(bitPattern: Int64(double))
    }
    throw EncodingError(path: path, message: "expected an integer, got \(describe(value))")
  }

  /// A JSON value as an error message describes it: its kind, and the value when short.
  static func describe(_ value: JSONValue) -> String {
    switch value {
    case .null: return "null"
    case .string(let text): return "the string \(text.quoted)"
    case .array: return "an array"
    case .object: return "an object"
    case .bool(let flag): return flag ? "true" : "false"
    case .number(let literal): return "the number \(literal)"
    }
  }

  /// A fully qualified type name without its leading dot.
  static func name(_ type: String) -> String { type.hasPrefix(".") ? String(type.dropFirst()) : type }

  /// Appends `value` as a protobuf base-128 varint.
  public static func varint(_ value: UInt64, into out: inout [UInt8]) {
    var value = value
    while value > 0x7F {
      out.append(UInt8(value & 0x7F) | 0x80)
      value >>= 7
    }
    out.append(UInt8(value))
  }

  /// Appends `bytes` with their varint length before them (the body of a wire-type-2 field).
  public static func lengthDelimited(_ bytes: [UInt8], into out: inout [UInt8]) {
    varint(UInt64(bytes.count), into: &out)
    out += bytes
  }
}

import CarbonDomain
import Foundation
import SwiftProtobuf

/// The former names of a module's renamed request fields, as its .proto files declare them with
/// `(carbon.domain.v1.formerly)`, and the rewriting of a JSON request that still uses them.
///
/// A rename keeps the field's number, so protobuf clients see no change; JSON clients send
/// names. For one release after a rename, a JSON request with the former name (`"from"`) is read
/// as if it used the current one (`"from_land_use"`). The kit tries only when the request fails
/// to decode as it is, so requests with current names pay nothing.
public struct FieldRenames: Sendable {
  /// Per message type (`carbon.aldo.v1.AnnualChange`): former name → current name.
  let former: [String: [String: String]]
  /// Per message type: each message-typed field (by .proto and JSON name) → its type.
  let messageFields: [String: [String: String]]

  /// No renames.
  public static let none = FieldRenames(former: [:], messageFields: [:])

  init(former: [String: [String: String]], messageFields: [String: [String: String]]) {
    self.former = former
    self.messageFields = messageFields
  }

  /// Reads the renames declared in a serialized `FileDescriptorSet`.
  public init(descriptorSet: [UInt8]) throws {
    self.init(try Google_Protobuf_FileDescriptorSet(serializedBytes: descriptorSet, extensions: carbonFieldOptionExtensions))
  }

  /// Reads the renames declared in a `FileDescriptorSet` parsed with `carbonFieldOptionExtensions`.
  init(_ set: Google_Protobuf_FileDescriptorSet) {
    var former: [String: [String: String]] = [:]
    var messageFields: [String: [String: String]] = [:]
    set.forEachMessage { type, message in
      for field in message.field {
        if field.options.hasCarbon_Domain_V1_formerly {
          former[type, default: [:]][field.options.Carbon_Domain_V1_formerly] = field.name
        }
        if field.type == .message {
          let target = String(field.typeName.dropFirst())
          messageFields[type, default: [:]][field.name] = target
          if field.hasJsonName { messageFields[type, default: [:]][field.jsonName] = target }
        }
      }
    }
    self.init(former: former, messageFields: messageFields)
  }

  /// The renames of a module's descriptor set, read once per module type.
  static func of<Module: CarbonModule>(_ module: Module.Type) -> FieldRenames {
    DeclaredFieldOptions.of(module).renames
  }

  /// The JSON request of message type `type` with every former name replaced by the current
  /// one, or nil when it uses none (or is not a JSON object).
  func rewritten(json: [UInt8], type: String) -> [UInt8]? {
    // JSONValue, not JSONSerialization: the rewritten request keeps every number exactly as
    // the client wrote it.
    guard !former.isEmpty, let object = try? JSONValue(parsing: json) else { return nil }
    var changed = false
    func rewrite(_ value: JSONValue, _ type: String) -> JSONValue {
      if let array = value.elements { return .array(array.map { rewrite($0, type) }) }
      guard let members = value.members else { return value }
      let keys = Set(members.map(\.key))
      return .object(
        members.map { member in
          var name = member.key
          if let current = former[type]?[member.key], !keys.contains(current) {
            name = current
            changed = true
          }
          return JSONValue.Member(name, messageFields[type]?[name].map { rewrite(member.value, $0) } ?? member.value)
        })
    }
    let result = rewrite(object, type)
    return changed ? result.serialized : nil
  }
}

import CarbonDomain
import CarbonPluginLoader
import Foundation
import SwiftProtobuf

/// The request fields a module asks the host to fill in, read once from its descriptor set:
/// for each method, the top-level string field of its request marked
/// `(carbon.domain.v1.caller_identity)`, which the host sets to the caller's proven identity.
///
/// Why the host and not the client: a module that records who did something (the COP pool's
/// history) must not take the client's word for it. The host knows the identity from the TLS
/// handshake, and writing it into the request keeps the plugin ABI unchanged and works the same
/// for in-process and isolated modules, in any language.
struct HostFilledFields: Sendable {
  /// A request field the host writes.
  struct Field: Sendable, Equatable {
    /// Its number, for protobuf requests.
    let number: Int32
    /// Its .proto name, for JSON requests (the kit and protobuf JSON parsers accept it).
    let name: String
  }

  /// Method path (`/carbon.cop.v1.CopVivier/CreateProject`) → its request's caller field.
  private let callerIdentity: [String: Field]

  /// No field is filled in.
  static let none = HostFilledFields(callerIdentity: [:])

  private init(callerIdentity: [String: Field]) { self.callerIdentity = callerIdentity }

  /// Reads the marked fields of every method in `descriptorSet`; an unreadable set marks none.
  init(descriptorSet: [UInt8]) {
    guard
      let set = try? Google_Protobuf_FileDescriptorSet(serializedBytes: descriptorSet, extensions: carbonFieldOptionExtensions)
    else {
      self = .none
      return
    }
    var marked: [String: Field] = [:]
    set.forEachMessage { type, message in
      for field in message.field
      where field.options.Carbon_Domain_V1_callerIdentity && field.type == .string && field.label != .repeated {
        marked["." + type] = Field(number: field.number, name: field.name)
      }
    }
    var byMethod: [String: Field] = [:]
    for file in set.file {
      for service in file.service {
        let serviceName = file.package.isEmpty ? service.name : file.package + "." + service.name
        for method in service.method {
          if let field = marked[method.inputType] { byMethod["/\(serviceName)/\(method.name)"] = field }
        }
      }
    }
    callerIdentity = byMethod
  }

  /// True when no method has a field to fill (the common case: nothing to do per call).
  var isEmpty: Bool { callerIdentity.isEmpty }

  /// `request` with the caller field of `path`'s request set to `identity`, whatever the client
  /// sent; `request` unchanged when the method has no such field. A JSON request that is not
  /// an object is left for the module to refuse.
  func filling(_ request: [UInt8], path: String, encoding: WireEncoding, identity: String) -> [UInt8] {
    guard let field = callerIdentity[path] else { return request }
    switch encoding {
    case .protobuf:
      // Protobuf's rule for a repeated scalar field number: the last value wins. Appending the
      // field after the client's bytes overrides any value the client put there.
      var filled = request
      let value = Array(identity.utf8)
      appendVarint(UInt64(field.number) << 3 | 2, to: &filled)
      appendVarint(UInt64(value.count), to: &filled)
      filled += value
      return filled
    case .json:
      guard var object = (try? JSONSerialization.jsonObject(with: Data(request))) as? [String: Any] else { return request }
      // The client may have used the field's JSON (camelCase) name as well.
      object.removeValue(forKey: Self.jsonName(field.name))
      object[field.name] = identity
      guard let data = try? JSONSerialization.data(withJSONObject: object) else { return request }
      return Array(data)
    }
  }

  /// protobuf's JSON name of a field: lower camel case.
  static func jsonName(_ name: String) -> String {
    var result = ""
    var upper = false
    for character in name {
      if character == "_" {
        upper = true
      } else {
        result.append(upper ? Character(character.uppercased()) : character)
        upper = false
      }
    }
    return result
  }

  private func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
    var value = value
    while value >= 0x80 {
      bytes.append(UInt8(value & 0x7f) | 0x80)
      value >>= 7
    }
    bytes.append(UInt8(value))
  }
}

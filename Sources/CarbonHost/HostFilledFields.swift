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
    /// Its JSON (lower camel case) name, which a JSON request may use instead.
    let jsonName: String
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
        marked["." + type] = Field(number: field.number, name: field.name, jsonName: field.hasJsonName ? field.jsonName : field.name)
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
      JSONToProtobuf.varint(UInt64(field.number) << 3 | 2, into: &filled)
      JSONToProtobuf.lengthDelimited(Array(identity.utf8), into: &filled)
      return filled
    case .json:
      // JSONValue keeps every other member, numbers included, exactly as the client wrote it.
      guard var object = try? JSONValue(parsing: request), object.members != nil else { return request }
      // The client may have used the field's JSON (camelCase) name as well.
      object.removeMember(field.jsonName)
      object.set(field.name, to: .string(identity))
      return object.serialized
    }
  }
}

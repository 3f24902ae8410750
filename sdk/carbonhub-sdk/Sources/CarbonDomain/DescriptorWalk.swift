import SwiftProtobuf

extension Google_Protobuf_FileDescriptorProto {
  /// Calls `body` with every message type of the file, nested ones included, and its full
  /// name without a leading dot (`carbon.esca.v1.Farm`, `carbon.esca.v1.Farm.Parcel`).
  public func forEachMessage(
    _ body: (_ fullName: String, _ message: Google_Protobuf_DescriptorProto) throws -> Void
  ) rethrows {
    func visit(_ message: Google_Protobuf_DescriptorProto, _ scope: String) throws {
      let name = scope.isEmpty ? message.name : scope + "." + message.name
      try body(name, message)
      for nested in message.nestedType { try visit(nested, name) }
    }
    for message in messageType { try visit(message, package) }
  }
}

extension Google_Protobuf_FileDescriptorSet {
  /// Calls `body` with every message type of every file (see
  /// `Google_Protobuf_FileDescriptorProto.forEachMessage`).
  public func forEachMessage(
    _ body: (_ fullName: String, _ message: Google_Protobuf_DescriptorProto) throws -> Void
  ) rethrows {
    for file in file { try file.forEachMessage(body) }
  }
}

/// The field options our .proto files declare: `(carbon.domain.v1.bounds)`,
/// `(carbon.domain.v1.bounds_checked_per_item)`, `(carbon.domain.v1.formerly)` and
/// `(carbon.domain.v1.caller_identity)`. Parse a descriptor set with these extensions to read them.
public let carbonFieldOptionExtensions: SimpleExtensionMap = Carbon_Domain_V1_Bounds_Extensions.union(
  Carbon_Domain_V1_Evolution_Extensions
).union(Carbon_Domain_V1_HostFilled_Extensions)

import CarbonDomain
import SwiftProtobuf
import Synchronization

/// What a module's .proto files declare on its fields, read from its descriptor set once per
/// module type (one parse for both): the ranges (``FieldBounds``) and the former names
/// (``FieldRenames``).
struct DeclaredFieldOptions: Sendable {
  let bounds: FieldBounds
  let renames: FieldRenames

  static func of<Module: CarbonModule>(_ module: Module.Type) -> DeclaredFieldOptions {
    let key = ObjectIdentifier(module)
    if let known = cache.withLock({ $0[key] }) { return known }
    // A descriptor set the kit cannot read leaves the module without ranges and renames rather
    // than without service; `carbonhub verify` and the lint tests over the .proto files catch it.
    let options =
      (try? Google_Protobuf_FileDescriptorSet(serializedBytes: Module.descriptorSet, extensions: carbonFieldOptionExtensions))
      .map { DeclaredFieldOptions(bounds: FieldBounds($0), renames: FieldRenames($0)) }
      ?? DeclaredFieldOptions(bounds: .none, renames: .none)
    cache.withLock { $0[key] = options }
    return options
  }

  private static let cache = Mutex<[ObjectIdentifier: DeclaredFieldOptions]>([:])
}

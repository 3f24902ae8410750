import SwiftProtobuf

/// A field of a hand-built descriptor, for the proto lints' own tests (a lint must be shown to
/// find what it looks for, not only to pass on the repository's protos).
func descriptorField(
  _ name: String, number: Int32, type: Google_Protobuf_FieldDescriptorProto.TypeEnum
) -> Google_Protobuf_FieldDescriptorProto {
  var field = Google_Protobuf_FieldDescriptorProto()
  field.name = name
  field.number = number
  field.type = type
  return field
}

/// The serialized `FileDescriptorSet` of the host's own protos (host API, health, reflection),
/// served by gRPC reflection next to the plugins' sets.
public enum HostDescriptors {
  public static var fileDescriptorSet: [UInt8] { PackageResources.descriptor_set_binpb }
}

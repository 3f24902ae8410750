import Foundation
import SwiftProtobuf

extension SwiftProtobuf.Message {
  /// The message in the protobuf binary wire format, byte for byte what
  /// `serializedBytes()` returns, written in one pass.
  ///
  /// SwiftProtobuf sizes every nested message before writing its length prefix, and sizes it
  /// again at each level above, so a trace three levels deep is measured four times; its
  /// generic loops also look up type metadata on every element. Here a nested message gets a
  /// one-byte length placeholder, is written, and only a body of 128 bytes or more is moved up
  /// to make room for a longer prefix. A small call's response costs about half as many
  /// instructions (see docs/performance.md).
  ///
  /// - Throws: `BinaryEncodingError.missingRequiredFields` when a proto2 required field is
  ///   unset or the message exceeds 2 GiB, as `serializedBytes()` does.
  public func onePassSerializedBytes() throws -> [UInt8] {
    let (buffer, count) = try onePassSerializedBuffer()
    defer { free(buffer) }
    return Array(UnsafeBufferPointer(start: buffer, count: count))
  }

  /// The same bytes in memory from `malloc`, which the caller owns and frees with `free`: the
  /// C trampoline hands it to the host as the response without copying it.
  ///
  /// With `rejectingNonFinite`, a NaN or infinite `double`/`float` throws `NonFiniteNumber`
  /// instead of being written: the kit encodes every response so.
  func onePassSerializedBuffer(rejectingNonFinite: Bool = false) throws -> (UnsafeMutablePointer<UInt8>, count: Int) {
    if !isInitialized { throw BinaryEncodingError.missingRequiredFields }
    var encoder = OnePassBinaryEncoder()
    encoder.rejectsNonFinite = rejectingNonFinite
    do {
      try traverse(visitor: &encoder)
    } catch {
      encoder.deallocate()
      guard error is OnePassBinaryEncoder.Unsupported else { throw error }
      return mallocCopy(of: try serializedBytes())
    }
    guard encoder.count < 0x7fff_ffff else {
      encoder.deallocate()
      throw BinaryEncodingError.missingRequiredFields
    }
    return encoder.takeBuffer()
  }
}

/// A response holds a NaN or infinite number. The encoder refuses to write it: a response never
/// carries a non-finite number (see ``MessageCoding/nonFiniteResult(_:)``).
struct NonFiniteNumber: Error {}

/// `bytes` copied into memory from `malloc`, which the caller frees with `free` (as the ABI's
/// free_buffer does).
func mallocCopy(of bytes: [UInt8]) -> (UnsafeMutablePointer<UInt8>, count: Int) {
  let buffer = malloc(max(bytes.count, 1))!.assumingMemoryBound(to: UInt8.self)
  buffer.initialize(from: bytes, count: bytes.count)
  return (buffer, bytes.count)
}

/// A SwiftProtobuf visitor writing the binary wire format into a growing buffer, with
/// length prefixes patched after each nested message is written.
///
/// Values are written exactly as SwiftProtobuf's own binary encoder writes them (negative
/// `int32` and enum values sign-extended to ten bytes, `sint` zig-zag, floats little-endian,
/// map entries in the dictionary's iteration order), so the two encodings are interchangeable;
/// `OnePassBinaryEncoderTests` compares them on every field kind and on every module's
/// responses. Extensions written as a proto2 MessageSet are left to SwiftProtobuf.
struct OnePassBinaryEncoder: SwiftProtobuf.Visitor {
  /// Whether a NaN or infinite number throws `NonFiniteNumber` (responses) instead of being
  /// written as SwiftProtobuf would (any other message).
  var rejectsNonFinite = false
  /// Thrown for the one rarely used layout this encoder leaves to SwiftProtobuf.
  struct Unsupported: Error {}

  /// The buffer, from `malloc` so that its owner can release it with `free` (the ABI's
  /// free_buffer).
  private var base: UnsafeMutablePointer<UInt8>
  private var capacity: Int
  /// Bytes written so far.
  private(set) var count = 0

  init(initialCapacity: Int = 256) {
    capacity = initialCapacity
    base = malloc(initialCapacity)!.assumingMemoryBound(to: UInt8.self)
  }

  /// Frees the buffer; the encoder must not be used afterwards.
  func deallocate() { free(base) }

  /// Gives up the buffer and the number of bytes written in it; the caller frees it.
  func takeBuffer() -> (UnsafeMutablePointer<UInt8>, count: Int) { (base, count) }

  // MARK: Buffer

  private mutating func reserve(_ extra: Int) {
    let needed = count + extra
    guard needed > capacity else { return }
    var newCapacity = capacity * 2
    while newCapacity < needed { newCapacity *= 2 }
    base = realloc(base, newCapacity)!.assumingMemoryBound(to: UInt8.self)
    capacity = newCapacity
  }

  private mutating func putVarint(_ value: UInt64) {
    reserve(10)
    var value = value
    while value > 127 {
      base[count] = UInt8(truncatingIfNeeded: value) & 0x7f | 0x80
      count += 1
      value >>= 7
    }
    base[count] = UInt8(value)
    count += 1
  }

  private mutating func putTag(_ fieldNumber: Int, _ wireType: UInt64) {
    putVarint(UInt64(fieldNumber) << 3 | wireType)
  }

  private mutating func putLittleEndian<T: FixedWidthInteger>(_ value: T) {
    reserve(MemoryLayout<T>.size)
    withUnsafeBytes(of: value.littleEndian) { raw in
      UnsafeMutableRawPointer(base + count).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
    }
    count += MemoryLayout<T>.size
  }

  private mutating func putRaw(_ raw: UnsafeRawBufferPointer) {
    guard let source = raw.baseAddress, raw.count > 0 else { return }
    reserve(raw.count)
    UnsafeMutableRawPointer(base + count).copyMemory(from: source, byteCount: raw.count)
    count += raw.count
  }

  private mutating func putLengthDelimited(_ raw: UnsafeRawBufferPointer) {
    putVarint(UInt64(raw.count))
    putRaw(raw)
  }

  private mutating func putString(_ value: String) {
    var value = value
    value.withUTF8 { putLengthDelimited(UnsafeRawBufferPointer($0)) }
  }

  /// Reserves the one-byte length prefix of a nested body and returns where it is.
  private mutating func beginLengthDelimited() -> Int {
    reserve(1)
    count += 1
    return count - 1
  }

  /// Writes the length of the body that follows `prefix`, moving the body up when the length
  /// needs more than the one byte reserved.
  private mutating func endLengthDelimited(_ prefix: Int) {
    let length = count - prefix - 1
    if length < 128 {
      base[prefix] = UInt8(length)
      return
    }
    var width = 1
    var rest = length >> 7
    while rest > 0 {
      width += 1
      rest >>= 7
    }
    reserve(width - 1)
    (base + prefix + width).update(from: base + prefix + 1, count: length)
    var value = length
    for offset in 0..<width {
      base[prefix + offset] = UInt8(truncatingIfNeeded: value) & 0x7f | (offset < width - 1 ? 0x80 : 0)
      value >>= 7
    }
    count += width - 1
  }

  // MARK: Wire types

  private static let varint: UInt64 = 0
  private static let fixed64: UInt64 = 1
  private static let lengthDelimited: UInt64 = 2
  private static let startGroup: UInt64 = 3
  private static let endGroup: UInt64 = 4
  private static let fixed32: UInt64 = 5

  // MARK: Singular fields

  mutating func visitSingularFloatField(value: Float, fieldNumber: Int) throws {
    if rejectsNonFinite && !value.isFinite { throw NonFiniteNumber() }
    putTag(fieldNumber, Self.fixed32)
    putLittleEndian(value.bitPattern)
  }

  mutating func visitSingularDoubleField(value: Double, fieldNumber: Int) throws {
    if rejectsNonFinite && !value.isFinite { throw NonFiniteNumber() }
    putTag(fieldNumber, Self.fixed64)
    putLittleEndian(value.bitPattern)
  }

  mutating func visitSingularInt32Field(value: Int32, fieldNumber: Int) throws {
    try visitSingularUInt64Field(value: UInt64(bitPattern: Int64(value)), fieldNumber: fieldNumber)
  }

  mutating func visitSingularInt64Field(value: Int64, fieldNumber: Int) throws {
    try visitSingularUInt64Field(value: UInt64(bitPattern: value), fieldNumber: fieldNumber)
  }

  mutating func visitSingularUInt32Field(value: UInt32, fieldNumber: Int) throws {
    try visitSingularUInt64Field(value: UInt64(value), fieldNumber: fieldNumber)
  }

  mutating func visitSingularUInt64Field(value: UInt64, fieldNumber: Int) throws {
    putTag(fieldNumber, Self.varint)
    putVarint(value)
  }

  mutating func visitSingularSInt32Field(value: Int32, fieldNumber: Int) throws {
    try visitSingularSInt64Field(value: Int64(value), fieldNumber: fieldNumber)
  }

  mutating func visitSingularSInt64Field(value: Int64, fieldNumber: Int) throws {
    try visitSingularUInt64Field(value: Self.zigZag(value), fieldNumber: fieldNumber)
  }

  mutating func visitSingularFixed32Field(value: UInt32, fieldNumber: Int) throws {
    putTag(fieldNumber, Self.fixed32)
    putLittleEndian(value)
  }

  mutating func visitSingularFixed64Field(value: UInt64, fieldNumber: Int) throws {
    putTag(fieldNumber, Self.fixed64)
    putLittleEndian(value)
  }

  mutating func visitSingularSFixed32Field(value: Int32, fieldNumber: Int) throws {
    try visitSingularFixed32Field(value: UInt32(bitPattern: value), fieldNumber: fieldNumber)
  }

  mutating func visitSingularSFixed64Field(value: Int64, fieldNumber: Int) throws {
    try visitSingularFixed64Field(value: UInt64(bitPattern: value), fieldNumber: fieldNumber)
  }

  mutating func visitSingularBoolField(value: Bool, fieldNumber: Int) throws {
    try visitSingularUInt64Field(value: value ? 1 : 0, fieldNumber: fieldNumber)
  }

  mutating func visitSingularStringField(value: String, fieldNumber: Int) throws {
    putTag(fieldNumber, Self.lengthDelimited)
    putString(value)
  }

  mutating func visitSingularBytesField(value: Data, fieldNumber: Int) throws {
    putTag(fieldNumber, Self.lengthDelimited)
    value.withUnsafeBytes { putLengthDelimited($0) }
  }

  mutating func visitSingularEnumField<E: Enum>(value: E, fieldNumber: Int) throws {
    try visitSingularUInt64Field(value: UInt64(bitPattern: Int64(value.rawValue)), fieldNumber: fieldNumber)
  }

  mutating func visitSingularMessageField<M: Message>(value: M, fieldNumber: Int) throws {
    putTag(fieldNumber, Self.lengthDelimited)
    let prefix = beginLengthDelimited()
    try value.traverse(visitor: &self)
    endLengthDelimited(prefix)
  }

  mutating func visitSingularGroupField<G: Message>(value: G, fieldNumber: Int) throws {
    putTag(fieldNumber, Self.startGroup)
    try value.traverse(visitor: &self)
    putTag(fieldNumber, Self.endGroup)
  }

  // MARK: Repeated fields
  //
  // Scalars keep the protocol's default (each element as a singular field). Loops over
  // generic elements go by index: a `for … in` over `[M]` would look up `Optional<M>`'s
  // metadata on every element.

  mutating func visitRepeatedStringField(value: [String], fieldNumber: Int) throws {
    for index in 0..<value.count { try visitSingularStringField(value: value[index], fieldNumber: fieldNumber) }
  }

  mutating func visitRepeatedBytesField(value: [Data], fieldNumber: Int) throws {
    for index in 0..<value.count { try visitSingularBytesField(value: value[index], fieldNumber: fieldNumber) }
  }

  mutating func visitRepeatedEnumField<E: Enum>(value: [E], fieldNumber: Int) throws {
    for index in 0..<value.count { try visitSingularEnumField(value: value[index], fieldNumber: fieldNumber) }
  }

  mutating func visitRepeatedMessageField<M: Message>(value: [M], fieldNumber: Int) throws {
    for index in 0..<value.count { try visitSingularMessageField(value: value[index], fieldNumber: fieldNumber) }
  }

  mutating func visitRepeatedGroupField<G: Message>(value: [G], fieldNumber: Int) throws {
    for index in 0..<value.count { try visitSingularGroupField(value: value[index], fieldNumber: fieldNumber) }
  }

  // MARK: Packed fields

  /// Writes a packed field: one length-delimited run of its elements.
  private mutating func putPacked<T>(_ values: [T], _ fieldNumber: Int, _ put: (inout Self, T) -> Void) {
    putTag(fieldNumber, Self.lengthDelimited)
    let prefix = beginLengthDelimited()
    for value in values { put(&self, value) }
    endLengthDelimited(prefix)
  }

  mutating func visitPackedFloatField(value: [Float], fieldNumber: Int) throws {
    if rejectsNonFinite && !value.allSatisfy(\.isFinite) { throw NonFiniteNumber() }
    putPacked(value, fieldNumber) { $0.putLittleEndian($1.bitPattern) }
  }

  mutating func visitPackedDoubleField(value: [Double], fieldNumber: Int) throws {
    if rejectsNonFinite && !value.allSatisfy(\.isFinite) { throw NonFiniteNumber() }
    putPacked(value, fieldNumber) { $0.putLittleEndian($1.bitPattern) }
  }

  mutating func visitPackedInt32Field(value: [Int32], fieldNumber: Int) throws {
    putPacked(value, fieldNumber) { $0.putVarint(UInt64(bitPattern: Int64($1))) }
  }

  mutating func visitPackedInt64Field(value: [Int64], fieldNumber: Int) throws {
    putPacked(value, fieldNumber) { $0.putVarint(UInt64(bitPattern: $1)) }
  }

  mutating func visitPackedUInt32Field(value: [UInt32], fieldNumber: Int) throws {
    putPacked(value, fieldNumber) { $0.putVarint(UInt64($1)) }
  }

  mutating func visitPackedUInt64Field(value: [UInt64], fieldNumber: Int) throws {
    putPacked(value, fieldNumber) { $0.putVarint($1) }
  }

  mutating func visitPackedSInt32Field(value: [Int32], fieldNumber: Int) throws {
    putPacked(value, fieldNumber) { $0.putVarint(Self.zigZag(Int64($1))) }
  }

  mutating func visitPackedSInt64Field(value: [Int64], fieldNumber: Int) throws {
    putPacked(value, fieldNumber) { $0.putVarint(Self.zigZag($1)) }
  }

  mutating func visitPackedFixed32Field(value: [UInt32], fieldNumber: Int) throws {
    putPacked(value, fieldNumber) { $0.putLittleEndian($1) }
  }

  mutating func visitPackedFixed64Field(value: [UInt64], fieldNumber: Int) throws {
    putPacked(value, fieldNumber) { $0.putLittleEndian($1) }
  }

  mutating func visitPackedSFixed32Field(value: [Int32], fieldNumber: Int) throws {
    putPacked(value, fieldNumber) { $0.putLittleEndian($1) }
  }

  mutating func visitPackedSFixed64Field(value: [Int64], fieldNumber: Int) throws {
    putPacked(value, fieldNumber) { $0.putLittleEndian($1) }
  }

  mutating func visitPackedBoolField(value: [Bool], fieldNumber: Int) throws {
    putPacked(value, fieldNumber) { $0.putVarint($1 ? 1 : 0) }
  }

  mutating func visitPackedEnumField<E: Enum>(value: [E], fieldNumber: Int) throws {
    putTag(fieldNumber, Self.lengthDelimited)
    let prefix = beginLengthDelimited()
    for index in 0..<value.count { putVarint(UInt64(bitPattern: Int64(value[index].rawValue))) }
    endLengthDelimited(prefix)
  }

  // MARK: Maps: each entry a nested message with the key as field 1 and the value as field 2

  /// Writes each entry of a map, in the dictionary's order (as SwiftProtobuf does).
  private mutating func putMap<Key, Value>(
    _ map: [Key: Value], _ fieldNumber: Int, _ putEntry: (inout Self, Key, Value) throws -> Void
  ) throws {
    for (key, value) in map {
      putTag(fieldNumber, Self.lengthDelimited)
      let prefix = beginLengthDelimited()
      try putEntry(&self, key, value)
      endLengthDelimited(prefix)
    }
  }

  mutating func visitMapField<KeyType, ValueType: MapValueType>(
    fieldType: _ProtobufMap<KeyType, ValueType>.Type,
    value: _ProtobufMap<KeyType, ValueType>.BaseType,
    fieldNumber: Int
  ) throws {
    try putMap(value, fieldNumber) { encoder, key, entry in
      try KeyType.visitSingular(value: key, fieldNumber: 1, with: &encoder)
      try ValueType.visitSingular(value: entry, fieldNumber: 2, with: &encoder)
    }
  }

  mutating func visitMapField<KeyType, ValueType>(
    fieldType: _ProtobufEnumMap<KeyType, ValueType>.Type,
    value: _ProtobufEnumMap<KeyType, ValueType>.BaseType,
    fieldNumber: Int
  ) throws where ValueType.RawValue == Int {
    try putMap(value, fieldNumber) { encoder, key, entry in
      try KeyType.visitSingular(value: key, fieldNumber: 1, with: &encoder)
      try encoder.visitSingularEnumField(value: entry, fieldNumber: 2)
    }
  }

  mutating func visitMapField<KeyType, ValueType>(
    fieldType: _ProtobufMessageMap<KeyType, ValueType>.Type,
    value: _ProtobufMessageMap<KeyType, ValueType>.BaseType,
    fieldNumber: Int
  ) throws {
    try putMap(value, fieldNumber) { encoder, key, entry in
      try KeyType.visitSingular(value: key, fieldNumber: 1, with: &encoder)
      try encoder.visitSingularMessageField(value: entry, fieldNumber: 2)
    }
  }

  // MARK: Extensions and unknown fields

  mutating func visitExtensionFieldsAsMessageSet(fields: ExtensionFieldValueSet, start: Int, end: Int) throws {
    throw Unsupported()
  }

  mutating func visitUnknown(bytes: Data) throws {
    bytes.withUnsafeBytes { putRaw($0) }
  }

  private static func zigZag(_ value: Int64) -> UInt64 {
    UInt64(bitPattern: (value << 1) ^ (value >> 63))
  }
}

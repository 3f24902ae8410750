import SwiftProtobuf

extension JSONToProtobuf {
  /// The path of the first NaN or infinite `double`/`float` in a response of the method at
  /// `path`, read from its protobuf bytes with the plugin's descriptors, or nil when every
  /// number is finite (or the bytes cannot be walked: the other checks report those).
  ///
  /// The conformance checker runs it on every successful answer, so that `carbonhub verify`
  /// fails a plugin (in any language) that emits a non-finite number.
  public func firstNonFiniteNumber(inResponse bytes: [UInt8], method path: String) -> String? {
    guard let type = outputTypes[path] else { return nil }
    return nonFinite(bytes[...], type: type, path: "", depth: 0)
  }

  private func nonFinite(_ bytes: ArraySlice<UInt8>, type: String, path: String, depth: Int) -> String? {
    guard depth < 64, let descriptor = messages[type] else { return nil }
    var index = bytes.startIndex
    var seen: [Int32: Int] = [:]
    while index < bytes.endIndex {
      guard let key = Self.readVarint(bytes, &index) else { return nil }
      let number = Int32(truncatingIfNeeded: key >> 3)
      let field = descriptor.field.first { $0.number == number }
      let repeated = field?.label == .repeated
      let name = field?.name ?? "\(number)"
      func elementPath() -> String {
        let count = seen[number, default: 0]
        seen[number] = count + 1
        return (path.isEmpty ? "" : path + ".") + name + (repeated ? "[\(count)]" : "")
      }
      switch key & 7 {
      case 0:
        guard Self.readVarint(bytes, &index) != nil else { return nil }
        _ = elementPath()
      case 1:
        guard bytes.endIndex - index >= 8 else { return nil }
        let value = Self.littleEndian(bytes, index, 8)
        index += 8
        let here = elementPath()
        if field?.type == .double, !Double(bitPattern: value).isFinite { return here }
      case 5:
        guard bytes.endIndex - index >= 4 else { return nil }
        let value = UInt32(truncatingIfNeeded: Self.littleEndian(bytes, index, 4))
        index += 4
        let here = elementPath()
        if field?.type == .float, !Float(bitPattern: value).isFinite { return here }
      case 2:
        guard let length = Self.readVarint(bytes, &index), length <= UInt64(bytes.endIndex - index) else { return nil }
        let body = bytes[index..<index + Int(length)]
        index += Int(length)
        switch field?.type {
        case .message?:
          if let found = nonFinite(body, type: field!.typeName, path: elementPath(), depth: depth + 1) { return found }
        case .double?, .float?:
          // A packed run: one element path per value.
          let width = field?.type == .double ? 8 : 4
          var offset = body.startIndex
          while body.endIndex - offset >= width {
            let value = Self.littleEndian(body, offset, width)
            offset += width
            let here = elementPath()
            let finite = width == 8 ? Double(bitPattern: value).isFinite : Float(bitPattern: UInt32(truncatingIfNeeded: value)).isFinite
            if !finite { return here }
          }
        default:
          _ = elementPath()
        }
      default:
        return nil  // groups: not in any module's protos
      }
    }
    return nil
  }

  /// The varint at `index` of `bytes`, `index` moved past it; nil when the bytes end first.
  public static func readVarint(_ bytes: ArraySlice<UInt8>, _ index: inout Int) -> UInt64? {
    var value: UInt64 = 0
    var shift: UInt64 = 0
    while index < bytes.endIndex, shift < 64 {
      let byte = bytes[index]
      index += 1
      value |= UInt64(byte & 0x7f) << shift
      if byte & 0x80 == 0 { return value }
      shift += 7
    }
    return nil
  }

  private static func littleEndian(_ bytes: ArraySlice<UInt8>, _ index: Int, _ width: Int) -> UInt64 {
    (0..<width).reduce(UInt64(0)) { $0 | UInt64(bytes[index + $1]) << (8 * UInt64($1)) }
  }
}

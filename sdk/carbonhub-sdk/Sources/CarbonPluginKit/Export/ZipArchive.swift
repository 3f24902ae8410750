/// A ZIP archive of stored (uncompressed) entries, written in memory.
///
/// Just enough of the format (PKWARE APPNOTE 6.3, no compression, no ZIP64) for the Office Open
/// XML files the modules export: an `.xlsx` is a ZIP of a few small XML parts. Stored entries
/// keep the writer small and dependency-free; the files stay a few times larger than deflated
/// ones, which is fine for reports of thousands of rows.
struct ZipArchive {
  private var bytes: [UInt8] = []
  private var centralDirectory: [UInt8] = []
  private var entryCount = 0

  /// Adds a file at `path` (forward slashes) with `contents`.
  mutating func add(path: String, contents: [UInt8]) {
    let name = Array(path.utf8)
    let crc = CRC32.checksum(contents)
    let offset = UInt32(bytes.count)
    // Local file header.
    append32(0x0403_4b50, to: &bytes)
    append16(20, to: &bytes)  // version needed: 2.0
    append16(0x0800, to: &bytes)  // flags: names are UTF-8
    append16(0, to: &bytes)  // method: stored
    append16(0, to: &bytes)  // time
    append16(0x21, to: &bytes)  // date: 1980-01-01 (fixed, so the same table gives the same bytes)
    append32(crc, to: &bytes)
    append32(UInt32(contents.count), to: &bytes)
    append32(UInt32(contents.count), to: &bytes)
    append16(UInt16(name.count), to: &bytes)
    append16(0, to: &bytes)  // extra length
    bytes += name
    bytes += contents
    // Its central directory record.
    append32(0x0201_4b50, to: &centralDirectory)
    append16(20, to: &centralDirectory)  // version made by
    append16(20, to: &centralDirectory)  // version needed
    append16(0x0800, to: &centralDirectory)
    append16(0, to: &centralDirectory)
    append16(0, to: &centralDirectory)
    append16(0x21, to: &centralDirectory)
    append32(crc, to: &centralDirectory)
    append32(UInt32(contents.count), to: &centralDirectory)
    append32(UInt32(contents.count), to: &centralDirectory)
    append16(UInt16(name.count), to: &centralDirectory)
    append16(0, to: &centralDirectory)  // extra
    append16(0, to: &centralDirectory)  // comment
    append16(0, to: &centralDirectory)  // disk
    append16(0, to: &centralDirectory)  // internal attributes
    append32(0, to: &centralDirectory)  // external attributes
    append32(offset, to: &centralDirectory)
    centralDirectory += name
    entryCount += 1
  }

  /// The archive's bytes: the entries, the central directory and its end record.
  func finished() -> [UInt8] {
    var output = bytes
    let directoryOffset = UInt32(output.count)
    output += centralDirectory
    append32(0x0605_4b50, to: &output)
    append16(0, to: &output)
    append16(0, to: &output)
    append16(UInt16(entryCount), to: &output)
    append16(UInt16(entryCount), to: &output)
    append32(UInt32(centralDirectory.count), to: &output)
    append32(directoryOffset, to: &output)
    append16(0, to: &output)  // comment length
    return output
  }

  private func append16(_ value: UInt16, to output: inout [UInt8]) {
    output.append(UInt8(value & 0xff))
    output.append(UInt8(value >> 8))
  }

  private func append32(_ value: UInt32, to output: inout [UInt8]) {
    for shift in stride(from: 0, to: 32, by: 8) { output.append(UInt8((value >> UInt32(shift)) & 0xff)) }
  }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as ZIP requires.
enum CRC32 {
  private static let table: [UInt32] = (0..<256).map { index -> UInt32 in
    var value = UInt32(index)
    for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
    return value
  }

  /// The CRC-32 of `bytes` ("123456789" → 0xCBF43926).
  static func checksum(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xff)] ^ (crc >> 8) }
    return crc ^ 0xFFFF_FFFF
  }
}

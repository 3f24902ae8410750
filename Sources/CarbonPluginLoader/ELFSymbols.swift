import CarbonPluginABI
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Reads the dynamic symbol table of an ELF shared library without loading it.
///
/// Discovery uses it to tell plugins from other shared libraries of a directory (a dependency's
/// `libGRDB-dynamic.so`, say) before any `dlopen`: `dlopen` runs a library's constructors, so
/// deciding from the file alone keeps code that is not a plugin from ever running in the host.
/// Only 64-bit little-endian ELF is understood (every platform the host runs on); any other
/// file, or one whose tables point outside the file, reads as "no symbols".
public struct ELFSymbols: Sendable, Equatable {
  /// Names of the symbols the library defines and exports (global or weak binding, default or
  /// protected visibility, defined in a section of the file).
  public let exported: Set<String>
  /// True when the library imports the Swift runtime (an undefined `swift_…` symbol, such as
  /// `swift_retain`): a Swift module, which only works with the Swift runtime it was built for.
  public let importsSwiftRuntime: Bool
  /// The Swift toolchain that built the library, as its `.comment` section records it: the
  /// toolchain's clang line ("clang version 21.0.0 (https://github.com/swiftlang/llvm-project.git
  /// 11673e66…)"), nil when the section names no Swift toolchain.
  public let swiftToolchain: String?

  /// Reads the exported dynamic symbols through `read(offset, count)`, which returns exactly
  /// `count` bytes at `offset` or nil. Nil when the bytes are not a readable 64-bit
  /// little-endian ELF file with a dynamic symbol table.
  public init?(read: (_ offset: UInt64, _ count: Int) -> [UInt8]?) {
    // ELF64 header: e_ident[16], e_type, e_machine (2 each), e_version (4), e_entry, e_phoff,
    // e_shoff (8 each), e_flags (4), e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum,
    // e_shstrndx (2 each) = 64 bytes.
    guard let header = read(0, 64), header[0] == 0x7F, header[1] == 0x45, header[2] == 0x4C, header[3] == 0x46,
      header[4] == 2 /* ELFCLASS64 */, header[5] == 1 /* ELFDATA2LSB */
    else { return nil }
    let sectionTable = Self.u64(header, 0x28)
    let sectionEntrySize = Int(Self.u16(header, 0x3A))
    let sectionCount = Int(Self.u16(header, 0x3C))
    guard sectionTable > 0, (64...256).contains(sectionEntrySize), sectionCount > 0,
      let sections = read(sectionTable, sectionEntrySize * sectionCount)
    else { return nil }

    struct Section {
      let name: Int
      let type: UInt32
      let offset: UInt64
      let size: UInt64
      let link: Int
      let entrySize: UInt64
    }
    let all = (0..<sectionCount).map { index -> Section in
      let base = index * sectionEntrySize
      return Section(
        name: Int(Self.u32(sections, base)), type: Self.u32(sections, base + 4), offset: Self.u64(sections, base + 24), size: Self.u64(sections, base + 32),
        link: Int(Self.u32(sections, base + 40)), entrySize: Self.u64(sections, base + 56))
    }
    let dynamicSymbolTableType: UInt32 = 11  // SHT_DYNSYM
    guard let symbolSection = all.first(where: { $0.type == dynamicSymbolTableType }),
      symbolSection.link < all.count, (24...64).contains(symbolSection.entrySize),
      // Sane bounds before allocating: a corrupt header must not ask for gigabytes.
      symbolSection.size < 1 << 28, all[symbolSection.link].size < 1 << 28,
      let symbols = read(symbolSection.offset, Int(symbolSection.size)),
      let strings = read(all[symbolSection.link].offset, Int(all[symbolSection.link].size))
    else { return nil }

    var exported = Set<String>()
    var importsSwiftRuntime = false
    let entrySize = Int(symbolSection.entrySize)
    // Entry 0 is the reserved undefined symbol.
    for index in 1..<max(1, symbols.count / entrySize) {
      // Elf64_Sym: st_name (4), st_info (1), st_other (1), st_shndx (2), st_value, st_size (8 each).
      let base = index * entrySize
      let binding = symbols[base + 4] >> 4
      let visibility = symbols[base + 5] & 0x3
      let sectionIndex = Self.u16(symbols, base + 6)
      // GLOBAL (1) or WEAK (2); DEFAULT (0) or PROTECTED (3) visibility; SHN_UNDEF (0) means imported.
      guard binding == 1 || binding == 2, visibility == 0 || visibility == 3 else { continue }
      let nameOffset = Int(Self.u32(symbols, base))
      guard nameOffset < strings.count, let end = strings[nameOffset...].firstIndex(of: 0) else { continue }
      let name = strings[nameOffset..<end]
      if sectionIndex == 0 {
        if !importsSwiftRuntime && name.starts(with: Array("swift_".utf8)) { importsSwiftRuntime = true }
        continue
      }
      exported.insert(String(decoding: name, as: UTF8.self))
    }
    self.exported = exported
    self.importsSwiftRuntime = importsSwiftRuntime

    // `.comment`: NUL-separated producer strings (the linker keeps one copy of each).
    var toolchain: String?
    let shstrndx = Int(Self.u16(header, 0x3E))
    if shstrndx < all.count, all[shstrndx].size < 1 << 20, let names = read(all[shstrndx].offset, Int(all[shstrndx].size)) {
      let comment = all.first { section in
        section.name < names.count && names[section.name...].prefix(9).elementsEqual(Array(".comment\0".utf8))
      }
      if let comment, comment.size < 1 << 16, let text = read(comment.offset, Int(comment.size)) {
        toolchain = text.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
          .first { $0.contains("swiftlang/llvm-project") || $0.contains("apple/llvm-project") }
      }
    }
    swiftToolchain = toolchain
  }

  /// Reads a file's exported dynamic symbols; nil when it cannot be opened or is not a
  /// 64-bit little-endian ELF file with a dynamic symbol table.
  public init?(path: String) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    self.init(fileDescriptor: fd)
  }

  /// Reads the exported dynamic symbols of an open file (positional reads; the offset of the
  /// descriptor is not used).
  public init?(fileDescriptor fd: Int32) {
    self.init { offset, count in
      guard count >= 0, offset < UInt64(Int64.max) else { return nil }
      var bytes = [UInt8](repeating: 0, count: count)
      var done = 0
      while done < count {
        let n = bytes.withUnsafeMutableBytes { buffer in
          pread(fd, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
        }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return nil }
        done += n
      }
      return bytes
    }
  }

  /// The toolchain that built this running executable (nil when it cannot be read).
  public static let hostSwiftToolchain: String? = ELFSymbols(path: "/proc/self/exe")?.swiftToolchain

  /// Why a Swift module cannot run in this process, or nil: Swift has no stable ABI on Linux, so
  /// a module built by another toolchain than the host's would share the host's runtime with
  /// code compiled for another one.
  public func swiftToolchainMismatch(host: String? = ELFSymbols.hostSwiftToolchain) -> String? {
    guard importsSwiftRuntime, let host, let swiftToolchain, swiftToolchain != host else { return nil }
    return "it is a Swift module built by another Swift toolchain (\(swiftToolchain)) than this host (\(host)); "
      + "Swift has no stable ABI on Linux: rebuild it with the host's toolchain"
  }

  /// True when the library exports the plugin entry symbol (`carbon_plugin_entry`): the
  /// file-only test of "is this a carbonhub plugin", decided without running any of its code.
  public var exportsPluginEntry: Bool { exported.contains(CARBON_PLUGIN_ENTRY_SYMBOL) }

  /// True when the file at `path` is a 64-bit ELF library exporting the plugin entry symbol.
  public static func isPlugin(path: String) -> Bool {
    ELFSymbols(path: path)?.exportsPluginEntry ?? false
  }

  private static func u16(_ bytes: [UInt8], _ at: Int) -> UInt16 {
    UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
  }
  private static func u32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
    (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * $1) }
  }
  private static func u64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
    (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * $1) }
  }
}

import CarbonPluginLoader
import Foundation
import Testing

@Suite("ELF dynamic symbols: is this file a plugin, without loading it")
struct ELFSymbolsTests {
  /// One symbol of a synthetic dynamic symbol table.
  struct Symbol {
    var name: String
    var binding: UInt8 = 1  // GLOBAL
    var visibility: UInt8 = 0  // DEFAULT
    var section: UInt16 = 1  // defined (not SHN_UNDEF)
  }

  /// A minimal ELF64 file: header, .dynstr, .dynsym and a three-entry section table, laid out
  /// as a linker would (little-endian unless `bigEndian`).
  static func elf(_ symbols: [Symbol], elfClass: UInt8 = 2, bigEndian: Bool = false) -> [UInt8] {
    func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
    var strings: [UInt8] = [0]
    var nameOffsets: [UInt32] = []
    for symbol in symbols {
      nameOffsets.append(UInt32(strings.count))
      strings += Array(symbol.name.utf8) + [0]
    }
    let stringsOffset = 64
    let symbolsOffset = (stringsOffset + strings.count + 7) / 8 * 8
    var table = [UInt8](repeating: 0, count: 24)  // entry 0: the reserved undefined symbol
    for (symbol, nameOffset) in zip(symbols, nameOffsets) {
      table += le(nameOffset) + [symbol.binding << 4 | 2 /* FUNC */, symbol.visibility] + le(symbol.section)
      table += le(UInt64(0x1000)) + le(UInt64(16))
    }
    let sectionsOffset = (symbolsOffset + table.count + 7) / 8 * 8
    func section(type: UInt32, offset: Int, size: Int, link: UInt32, entrySize: UInt64) -> [UInt8] {
      le(UInt32(0)) + le(type) + le(UInt64(2)) + le(UInt64(0)) + le(UInt64(offset)) + le(UInt64(size)) + le(link)
        + le(UInt32(0)) + le(UInt64(8)) + le(entrySize)
    }
    var header: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, elfClass, bigEndian ? 2 : 1, 1] + [UInt8](repeating: 0, count: 9)
    header += le(UInt16(3)) + le(UInt16(62)) + le(UInt32(1)) + le(UInt64(0)) + le(UInt64(0)) + le(UInt64(sectionsOffset))
    header += le(UInt32(0)) + le(UInt16(64)) + le(UInt16(56)) + le(UInt16(0)) + le(UInt16(64)) + le(UInt16(3)) + le(UInt16(0))
    var file = header + strings
    file += [UInt8](repeating: 0, count: symbolsOffset - file.count) + table
    file += [UInt8](repeating: 0, count: sectionsOffset - file.count)
    file += [UInt8](repeating: 0, count: 64)
    file += section(type: 3 /* STRTAB */, offset: stringsOffset, size: strings.count, link: 0, entrySize: 0)
    file += section(type: 11 /* DYNSYM */, offset: symbolsOffset, size: table.count, link: 1, entrySize: 24)
    return file
  }

  static func symbols(_ bytes: [UInt8]) -> ELFSymbols? {
    ELFSymbols { offset, count in
      guard offset <= UInt64(bytes.count), count <= bytes.count - Int(offset) else { return nil }
      return Array(bytes[Int(offset)..<Int(offset) + count])
    }
  }

  @Test func anExportedEntrySymbolMakesAPlugin() throws {
    let read = try #require(Self.symbols(Self.elf([Symbol(name: "helper"), Symbol(name: "carbon_plugin_entry")])))
    #expect(read.exported == ["helper", "carbon_plugin_entry"])
    #expect(read.exportsPluginEntry)
  }

  @Test func weakAndProtectedExportsCount() throws {
    let read = try #require(Self.symbols(Self.elf([Symbol(name: "carbon_plugin_entry", binding: 2, visibility: 3)])))
    #expect(read.exportsPluginEntry)
  }

  @Test func importedLocalOrHiddenEntrySymbolsDoNotMakeAPlugin() throws {
    for symbol in [
      Symbol(name: "carbon_plugin_entry", section: 0),  // imported (undefined here)
      Symbol(name: "carbon_plugin_entry", binding: 0),  // LOCAL
      Symbol(name: "carbon_plugin_entry", visibility: 2),  // HIDDEN
    ] {
      let read = try #require(Self.symbols(Self.elf([Symbol(name: "other"), symbol])))
      #expect(read.exported == ["other"])
      #expect(!read.exportsPluginEntry)
    }
  }

  @Test func otherFormatsAndDamagedFilesAreNotPlugins() {
    let good = Self.elf([Symbol(name: "carbon_plugin_entry")])
    #expect(Self.symbols(good) != nil, "the control case must read")
    #expect(Self.symbols(Self.elf([Symbol(name: "carbon_plugin_entry")], elfClass: 1)) == nil, "32-bit")
    #expect(Self.symbols(Self.elf([Symbol(name: "carbon_plugin_entry")], bigEndian: true)) == nil, "big-endian")
    #expect(Self.symbols(Array("#!/bin/sh\necho not an ELF file at all, but long enough to have a header........\n".utf8)) == nil)
    #expect(Self.symbols(Array(good.prefix(40))) == nil, "truncated header")
    #expect(Self.symbols(Array(good.dropLast(10))) == nil, "section table past the end of the file")
    var corrupt = good
    corrupt[0x3B] = 0x10  // section entries of 4160 bytes: refused before allocating anything
    #expect(Self.symbols(corrupt) == nil)
  }

  @Test func realLibrariesOfThisProcessAreReadFromDisk() throws {
    // libc is mapped into every process: find its file and read it as discovery would.
    // Read to the end: /proc files report a size of 0, which String(contentsOfFile:) trusts.
    let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/maps"))
    let maps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
    let libc = try #require(
      maps.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
        .first { $0.hasSuffix("/libc.so.6") })
    let symbols = try #require(ELFSymbols(path: libc))
    #expect(symbols.exported.isSuperset(of: ["malloc", "dlopen", "printf"]))
    #expect(!symbols.exportsPluginEntry)
    #expect(!ELFSymbols.isPlugin(path: libc))
    #expect(ELFSymbols(path: "/nonexistent/lib.so") == nil)
    #expect(!ELFSymbols.isPlugin(path: "/proc/self/maps"))
  }
}

import CarbonDomain
import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import ExampleUnitsModule
import Foundation
import SwiftProtobuf
import Testing

/// The kit's one-pass encoder must write exactly the bytes SwiftProtobuf writes, for every
/// field kind of the wire format (carbon/testing/v1/wire_format.proto), for random messages,
/// and for real descriptor sets. (Every typed call in the modules' tests also checks it, through
/// `ModuleHarness`.)
@Suite("One-pass binary encoder", .cpuBound)
struct OnePassBinaryEncoderTests {
  typealias Every = Carbon_Testing_V1_EveryField

  func expectSameBytes<M: SwiftProtobuf.Message>(_ message: M, sourceLocation: SourceLocation = #_sourceLocation)
    throws
  {
    let reference: [UInt8] = try message.serializedBytes()
    let onePass = try message.onePassSerializedBytes()
    #expect(onePass == reference, "\(M.protoMessageName): \(onePass.count) vs \(reference.count) bytes", sourceLocation: sourceLocation)
    // Read back, it gives the same message. Compared as bytes (NaN is not equal to itself), with
    // map entries sorted (a decoded dictionary iterates in another order).
    var sorted = BinaryEncodingOptions()
    sorted.useDeterministicOrdering = true
    let decoded = try M(serializedBytes: onePass, extensions: Carbon_Testing_V1_WireFormat_Extensions, partial: true)
    let decodedBytes: [UInt8] = try decoded.serializedBytes(partial: true, options: sorted)
    let originalBytes: [UInt8] = try message.serializedBytes(partial: true, options: sorted)
    #expect(decodedBytes == originalBytes, sourceLocation: sourceLocation)
  }

  @Test func emptyMessageIsZeroBytes() throws {
    #expect(try Every().onePassSerializedBytes() == [])
    try expectSameBytes(Every())
  }

  @Test func singularFieldsAtTheirEdges() throws {
    var message = Every()
    for (int32, int64, uint64) in [(Int32.min, Int64.min, UInt64.max), (-1, -1, 0), (0, 0, 1), (Int32.max, Int64.max, 1 << 63)] {
      message.fInt32 = int32
      message.fInt64 = int64
      message.fUint32 = UInt32(truncatingIfNeeded: uint64)
      message.fUint64 = uint64
      message.fSint32 = int32
      message.fSint64 = int64
      message.fFixed32 = UInt32(truncatingIfNeeded: uint64)
      message.fFixed64 = uint64
      message.fSfixed32 = int32
      message.fSfixed64 = int64
      message.fFloat = Float(int32)
      message.fDouble = Double(int64)
      message.fBool = int32 < 0
      try expectSameBytes(message)
    }
    for double in [0.0, -0.0, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, 44.0 / 12.0] {
      message.fDouble = double
      message.fFloat = Float(double)
      try expectSameBytes(message)
    }
    message.fString = ""
    message.fBytes = Data()
    try expectSameBytes(message)
    message.fString = "émission évitée — t CO₂e 🌱"
    message.fBytes = Data((0..<300).map { UInt8($0 % 256) })
    for colour in [Carbon_Testing_V1_Colour.red, .green, .blue, .negative] {
      message.fEnum = colour
      try expectSameBytes(message)
    }
  }

  @Test func nestedLengthsAroundEveryPrefixWidth() throws {
    // Bodies of 127/128 bytes (one- and two-byte length prefix), 16 383/16 384 (two/three bytes)
    // and 2 MiB (three/four bytes), nested so that each level's body is moved once.
    for size in [0, 1, 125, 126, 127, 128, 129, 16_381, 16_382, 16_383, 16_384, 2_097_152] {
      var inner = Every()
      inner.fString = String(repeating: "x", count: size)
      var middle = Every()
      middle.fMessage = inner
      middle.rMessage = [inner, Every(), inner]
      var outer = Every()
      outer.fMessage = middle
      outer.oMessage = middle
      try expectSameBytes(outer)
    }
  }

  @Test func repeatedPackedAndGroups() throws {
    var message = Every()
    message.rFloat = [1.5, -0.0, .nan]
    message.rDouble = [1, 2, 3]
    message.rInt32 = [-1, 0, .max]
    message.rInt64 = [.min, 7]
    message.rUint32 = [0, .max]
    message.rUint64 = [.max]
    message.rSint32 = [-64, 63, .min]
    message.rSint64 = [.min, .max]
    message.rFixed32 = [1, 2]
    message.rFixed64 = [3]
    message.rSfixed32 = [-1]
    message.rSfixed64 = [-2]
    message.rBool = [true, false]
    message.rString = ["a", "", "ü"]
    message.rBytes = [Data([0, 1]), Data()]
    message.rEnum = [.blue, .negative, .red]
    message.rMessage = [Every(), message]
    message.pFloat = [1, 2]
    message.pDouble = Array(repeating: 0.1, count: 20)  // 160 bytes: a two-byte packed length
    message.pInt32 = [-1, 300, 0]
    message.pInt64 = [.min, .max]
    message.pUint32 = Array(0..<200)
    message.pUint64 = [1 << 40]
    message.pSint32 = [-1, 1]
    message.pSint64 = [.min]
    message.pFixed32 = [7]
    message.pFixed64 = [8]
    message.pSfixed32 = [-9]
    message.pSfixed64 = [-10]
    message.pBool = [true, true, false]
    message.pEnum = [.negative, .blue]
    message.fgroup.a = -5
    message.fgroup.b = "group"
    var group = Every.RGroup()
    group.c = 3
    message.rgroup = [group, Every.RGroup(), group]
    try expectSameBytes(message)
  }

  @Test func mapsOneofsExtensionsAndUnknownFields() throws {
    var message = Every()
    message.mScalar = ["a": 1, "": -1, "long key \(String(repeating: "k", count: 200))": .max]
    message.mEnum = [0: .red, -3: .negative, 9: .blue]
    var value = Every()
    value.fString = "value"
    message.mMessage = [0: Every(), 1: value]
    message.mBytes = [true: Data([1, 2, 3]), false: Data()]
    message.oString = "chosen"
    try expectSameBytes(message)
    message.oMessage = value
    try expectSameBytes(message)

    message.Carbon_Testing_V1_xInt32 = -7
    message.Carbon_Testing_V1_xStrings = ["x", "y"]
    message.Carbon_Testing_V1_xMessage = value
    try expectSameBytes(message)

    // Fields a reader does not know are kept and written back as they came.
    let everything: [UInt8] = try message.serializedBytes()
    let unknownToIt = try Carbon_Testing_V1_WithRequired(serializedBytes: everything, partial: true)
    #expect(!unknownToIt.unknownFields.data.isEmpty)
    var withID = unknownToIt
    withID.id = 1
    try expectSameBytes(withID)
  }

  @Test func missingRequiredFieldThrowsLikeSwiftProtobuf() throws {
    var message = Carbon_Testing_V1_WithRequired()
    message.note = "no id"
    #expect(throws: BinaryEncodingError.missingRequiredFields) { try message.onePassSerializedBytes() }
    #expect(throws: BinaryEncodingError.missingRequiredFields) { let _: [UInt8] = try message.serializedBytes() }
    message.id = 0
    try expectSameBytes(message)
  }

  @Test func randomMessagesMatch() throws {
    var generator = SplitMix64(seed: 0x0C0_2E)
    for _ in 0..<500 {
      try expectSameBytes(Self.random(depth: 0, &generator))
    }
  }

  @Test func realDescriptorSetsAndResponsesMatch() throws {
    // Every plugin's descriptor set: proto2 messages nested five levels, options, enums.
    let sets = [UnitsModule.descriptorSet]
    for bytes in sets {
      try expectSameBytes(try Google_Protobuf_FileDescriptorSet(serializedBytes: bytes))
    }
    var trace = TraceBuilder(method: "m", version: "1")
    trace.term("a", 1, .tC, formula: "x × y", source: "s")
    trace.dataSet(DataSetVersion.with { $0.name = "d"; $0.version = "v"; $0.source = "src" })
    trace.decision("rule", "choice", reason: "why")
    trace.rule("cap", "capped")
    trace.warning("careful")
    var response = Carbon_Examples_V1_ConvertResponse()
    response.quantity = Quantity(-2.5, .tCo2E)
    response.trace = trace.build()
    try expectSameBytes(response)
  }

  /// A random message nested up to three levels.
  static func random(depth: Int, _ generator: inout SplitMix64) -> Every {
    var message = Every()
    func chance(_ percent: UInt64) -> Bool { generator.next() % 100 < percent }
    func count(_ limit: UInt64) -> Int { Int(generator.next() % limit) }
    func string() -> String { String((0..<count(300)).map { _ in Character(UnicodeScalar(UInt8(32 + count(90)))) }) }
    if chance(50) { message.fInt32 = Int32(truncatingIfNeeded: generator.next()) }
    if chance(50) { message.fInt64 = Int64(bitPattern: generator.next()) }
    if chance(50) { message.fUint64 = generator.next() >> count(64) }
    if chance(50) { message.fSint32 = Int32(truncatingIfNeeded: generator.next()) }
    if chance(50) { message.fSint64 = Int64(bitPattern: generator.next()) }
    if chance(50) { message.fDouble = Double(bitPattern: generator.next()) }
    if chance(50) { message.fFloat = Float(bitPattern: UInt32(truncatingIfNeeded: generator.next())) }
    if chance(50) { message.fFixed64 = generator.next() }
    if chance(50) { message.fSfixed32 = Int32(truncatingIfNeeded: generator.next()) }
    if chance(50) { message.fString = string() }
    if chance(30) { message.fBytes = Data((0..<count(400)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }) }
    if chance(50) { message.fEnum = [.red, .green, .blue, .negative][count(4)] }
    if chance(30) { message.rString = (0..<count(5)).map { _ in string() } }
    if chance(30) { message.pInt64 = (0..<count(40)).map { _ in Int64(bitPattern: generator.next()) } }
    if chance(30) { message.pSint32 = (0..<count(40)).map { _ in Int32(truncatingIfNeeded: generator.next()) } }
    if chance(30) { message.rInt32 = (0..<count(5)).map { _ in Int32(truncatingIfNeeded: generator.next()) } }
    if chance(30) { message.pEnum = (0..<count(10)).map { _ in [.red, .negative, .blue][count(3)] } }
    if chance(20) { message.mScalar = Dictionary(uniqueKeysWithValues: (0..<count(4)).map { ("k\($0)", Int64(bitPattern: generator.next())) }) }
    if chance(20) { message.fgroup.a = Int32(truncatingIfNeeded: generator.next()) }
    if depth < 3 {
      if chance(40) { message.fMessage = random(depth: depth + 1, &generator) }
      if chance(30) { message.rMessage = (0..<count(4)).map { _ in random(depth: depth + 1, &generator) } }
      if chance(20) { message.oMessage = random(depth: depth + 1, &generator) }
    }
    return message
  }
}

import CarbonDomain
import Foundation
import SwiftProtobuf

/// The physical ranges of a module's request fields, as its .proto files declare them with the
/// `(carbon.domain.v1.bounds)` option, and the check of a decoded request against them.
///
/// The kit runs the check on every request before the method sees it, so no module computes on
/// a negative area, a percentage of 250 or an area of 1e308 (which overflows to an infinite
/// result): the caller gets INVALID_ARGUMENT naming the field, its range and its unit. NaN and
/// infinities are outside every range. Fields left unset are not checked (proto3 cannot tell
/// them from 0); repeated values are checked one by one. The items of a repeated field marked
/// `(carbon.domain.v1.bounds_checked_per_item)` (a batch's farms, each answered on its own) are
/// left to the module, which checks each with ``check(_:prefix:)`` and reports in place.
public struct FieldBounds: Sendable {
  /// The range of one field.
  struct Rule: Sendable {
    let name: String
    let bounds: Carbon_Domain_V1_Bounds
    let repeated: Bool
  }

  /// Per message type (its full name, `carbon.esca.v1.Farm`): the ranged fields by number.
  let rules: [String: [Int: Rule]]
  /// Per message type: its message-typed fields, by number, whose types hold ranged fields
  /// (directly or deeper); the check descends only into those.
  let descents: [String: [Int: Rule]]

  /// `rules` and `descents` of each message type as one table indexed by field number, which
  /// the check reads on every field of every request (a dictionary lookup per field cost a
  /// tenth of the check).
  let tables: [String: TypeTable]

  /// One message type's ranged fields and descents by field number.
  final class TypeTable: Sendable {
    let ranged: [Rule?]
    let nested: [Rule?]

    init(ranged: [Int: Rule], nested: [Int: Rule]) {
      func table(_ rules: [Int: Rule]) -> [Rule?] {
        var table = [Rule?](repeating: nil, count: (rules.keys.max() ?? -1) + 1)
        for (number, rule) in rules where number >= 0 { table[number] = rule }
        return table
      }
      self.ranged = table(ranged)
      self.nested = table(nested)
    }

    func ranged(_ number: Int) -> Rule? { number < ranged.count ? ranged[number] : nil }
    func nested(_ number: Int) -> Rule? { number < nested.count ? nested[number] : nil }
  }

  /// No ranges: every request passes.
  public static let none = FieldBounds(rules: [:], descents: [:])

  init(rules: [String: [Int: Rule]], descents: [String: [Int: Rule]]) {
    self.rules = rules
    self.descents = descents
    var tables: [String: TypeTable] = [:]
    for type in Set(rules.keys).union(descents.keys) {
      tables[type] = TypeTable(ranged: rules[type] ?? [:], nested: descents[type] ?? [:])
    }
    self.tables = tables
  }

  /// Reads the ranges declared in a serialized `FileDescriptorSet`.
  public init(descriptorSet: [UInt8]) throws {
    self.init(try Google_Protobuf_FileDescriptorSet(serializedBytes: descriptorSet, extensions: carbonFieldOptionExtensions))
  }

  /// Reads the ranges declared in a `FileDescriptorSet` parsed with `carbonFieldOptionExtensions`.
  init(_ set: Google_Protobuf_FileDescriptorSet) {
    var rules: [String: [Int: Rule]] = [:]
    var messageFields: [String: [Int: (Rule, String)]] = [:]
    set.forEachMessage { type, message in
      for field in message.field {
        let repeated = field.label == .repeated
        if field.options.hasCarbon_Domain_V1_bounds {
          let rule = Rule(name: field.name, bounds: field.options.Carbon_Domain_V1_bounds, repeated: repeated)
          rules[type, default: [:]][Int(field.number)] = rule
        } else if field.type == .message && !field.options.Carbon_Domain_V1_boundsCheckedPerItem {
          let rule = Rule(name: field.name, bounds: Carbon_Domain_V1_Bounds(), repeated: repeated)
          messageFields[type, default: [:]][Int(field.number)] = (rule, String(field.typeName.dropFirst()))
        }
      }
    }
    // A type needs a visit when it has ranged fields or leads to one that has: iterate to a
    // fixed point (message graphs may be recursive).
    var needed = Set(rules.keys)
    var changed = true
    while changed {
      changed = false
      for (type, fields) in messageFields where !needed.contains(type) {
        if fields.values.contains(where: { needed.contains($0.1) }) {
          needed.insert(type)
          changed = true
        }
      }
    }
    var descents: [String: [Int: Rule]] = [:]
    for (type, fields) in messageFields {
      for (number, (rule, target)) in fields where needed.contains(target) {
        descents[type, default: [:]][number] = rule
      }
    }
    self.init(rules: rules, descents: descents)
  }

  /// The ranges of a module's descriptor set, read once per module type. A module calls it to
  /// check the items of a field marked `bounds_checked_per_item`, one by one.
  public static func of<Module: CarbonModule>(_ module: Module.Type) -> FieldBounds {
    DeclaredFieldOptions.of(module).bounds
  }

  /// Whether the message type has anything to check.
  func covers(_ type: String) -> Bool { tables[type] != nil }

  /// Throws INVALID_ARGUMENT naming the first field of `message` outside its range, its path
  /// prefixed with `prefix` (`requests[3].`) for the requests of a stream.
  public func check<M: SwiftProtobuf.Message>(_ message: M, prefix: String = "") throws(ModuleError) {
    guard covers(M.protoMessageName) else { return }
    var firstPass = BoundsVisitor(bounds: self, type: M.protoMessageName, path: nil)
    do {
      try message.traverse(visitor: &firstPass)
      return
    } catch is BoundsVisitor.OutOfRange {
      // Walk again, naming the field.
    } catch {
      throw .internal("could not check the ranges of \(M.protoMessageName): \(error)")
    }
    var naming = BoundsVisitor(bounds: self, type: M.protoMessageName, path: prefix)
    do {
      try message.traverse(visitor: &naming)
    } catch let error as ModuleError {
      throw error
    } catch {
      throw .internal("could not check the ranges of \(M.protoMessageName): \(error)")
    }
    throw .internal("the ranges of \(M.protoMessageName) gave different answers on two walks")
  }

  /// What is wrong with `value` for the field named `field` (its .proto name) of the message
  /// type named `type` (`Carbon_Sobac_V1_InputLine.protoMessageName`), as an error message
  /// ("must be between 0 and 100 %, got 250"), or nil when it is in range or the field declares
  /// no range. For values that reach a module inside text (a CSV in a string field): the
  /// module applies the ranges its .proto declares and names the cell itself.
  public func violation(_ value: Double, field: String, in type: String) -> String? {
    guard let rule = rules[type]?.values.first(where: { $0.name == field }) else { return nil }
    guard !(value >= rule.bounds.min && value <= rule.bounds.max) else { return nil }
    return Self.rangeMessage(value, rule)
  }

  static func rangeMessage(_ value: Double, _ rule: Rule) -> String {
    let unit = rule.bounds.unit.isEmpty ? "" : " " + rule.bounds.unit
    let number = Carbon_Domain_V1_Bounds.printed
    return "must be between \(number(rule.bounds.min)) and \(number(rule.bounds.max))\(unit), got \(number(value))"
  }

  /// The error for `value` of `rule` at `path`.
  static func outOfRange(_ value: Double, _ rule: Rule, _ path: String) -> ModuleError {
    .invalidArgument(path, rangeMessage(value, rule))
  }

}

/// Walks a decoded message the way its serializer would, checking each ranged value.
///
/// Two passes keep the common case cheap: the first (`path == nil`) only compares, with the
/// message type's rules looked up once per message, and stops at the first value outside; only
/// then does a second pass walk again building field paths, to name it. A path string per
/// field made the check cost half as much as decoding an ESCA farm.
private struct BoundsVisitor: SwiftProtobuf.Visitor {
  /// Thrown by the first pass: some value is outside its range.
  struct OutOfRange: Error {}

  let bounds: FieldBounds
  /// This message type's fields; nil when it has nothing to check.
  let table: FieldBounds.TypeTable?
  /// The path prefix of this message (`farms[2].bonus.`), nil in the first pass.
  let path: String?
  /// Repeated values arrive as consecutive visits of one field number: their index.
  private var lastField = -1
  private var occurrence = 0

  init(bounds: FieldBounds, type: String, path: String?) {
    self.bounds = bounds
    self.table = bounds.tables[type]
    self.path = path
  }

  /// The path of the current visit of `rule`'s field (`farms[2]`, `area_ha`); counts the
  /// occurrences of a repeated field, so the second pass calls it on every ranged visit.
  private mutating func fieldPath(_ number: Int, _ rule: FieldBounds.Rule, prefix: String) -> String {
    occurrence = number == lastField ? occurrence + 1 : 0
    lastField = number
    return rule.repeated ? "\(prefix)\(rule.name)[\(occurrence)]" : prefix + rule.name
  }

  private mutating func check(_ value: Double, _ number: Int) throws {
    guard let rule = table?.ranged(number) else { return }
    let inRange = value >= rule.bounds.min && value <= rule.bounds.max
    guard let path else {
      if !inRange { throw OutOfRange() }
      return
    }
    let current = fieldPath(number, rule, prefix: path)
    if !inRange { throw FieldBounds.outOfRange(value, rule, current) }
  }

  mutating func visitSingularDoubleField(value: Double, fieldNumber: Int) throws {
    try check(value, fieldNumber)
  }

  mutating func visitSingularInt64Field(value: Int64, fieldNumber: Int) throws {
    try check(Double(value), fieldNumber)
  }

  mutating func visitSingularUInt64Field(value: UInt64, fieldNumber: Int) throws {
    try check(Double(value), fieldNumber)
  }

  mutating func visitSingularMessageField<M: SwiftProtobuf.Message>(value: M, fieldNumber: Int) throws {
    guard let rule = table?.nested(fieldNumber) else { return }
    let inner = path.map { fieldPath(fieldNumber, rule, prefix: $0) + "." }
    var visitor = BoundsVisitor(bounds: bounds, type: M.protoMessageName, path: inner)
    try value.traverse(visitor: &visitor)
  }

  mutating func visitSingularGroupField<G: SwiftProtobuf.Message>(value: G, fieldNumber: Int) throws {
    try visitSingularMessageField(value: value, fieldNumber: fieldNumber)
  }

  mutating func visitSingularBoolField(value: Bool, fieldNumber: Int) throws {}
  mutating func visitSingularStringField(value: String, fieldNumber: Int) throws {}
  mutating func visitSingularBytesField(value: Data, fieldNumber: Int) throws {}
  mutating func visitSingularEnumField<E: SwiftProtobuf.Enum>(value: E, fieldNumber: Int) throws {}
  // Maps are not ranged (no module request uses one with numbers).
  mutating func visitMapField<KeyType, ValueType: MapValueType>(
    fieldType: _ProtobufMap<KeyType, ValueType>.Type, value: _ProtobufMap<KeyType, ValueType>.BaseType, fieldNumber: Int
  ) throws {}
  mutating func visitMapField<KeyType, ValueType>(
    fieldType: _ProtobufEnumMap<KeyType, ValueType>.Type, value: _ProtobufEnumMap<KeyType, ValueType>.BaseType,
    fieldNumber: Int
  ) throws where ValueType.RawValue == Int {}
  mutating func visitMapField<KeyType, ValueType>(
    fieldType: _ProtobufMessageMap<KeyType, ValueType>.Type, value: _ProtobufMessageMap<KeyType, ValueType>.BaseType,
    fieldNumber: Int
  ) throws {}
  mutating func visitExtensionFields(fields: ExtensionFieldValueSet, start: Int, end: Int) throws {}
  mutating func visitUnknown(bytes: Data) throws {}
}

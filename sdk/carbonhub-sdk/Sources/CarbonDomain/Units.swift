/// Physical constants of carbon accounting.
public enum CarbonConstants {
  /// Molar mass ratio CO2 / C = 44/12: tonnes of CO2 per tonne of carbon.
  public static let co2PerCarbon = 44.0 / 12.0
  /// Molar mass ratio N2O / N2O-N = 44/28: kg of N2O per kg of nitrogen emitted as N2O.
  public static let n2oPerN2oNitrogen = 44.0 / 28.0
}

/// What a unit measures. Conversions are defined only between units of one dimension.
public enum Dimension: String, Sendable, CaseIterable {
  case co2eMass, mass, carbonMass, carbonDensity, carbonRate, energy, area, volume
  case intensityPerEnergy, intensityPerMass, co2eFlow, carbonFlow, areaFlow
  case dimensionless, time, heatingValue, massFraction, bulkDensity, length, massPerArea
  case count, massPerAreaRate, energyPerAreaRate, massPerEnergy
}

extension MeasurementUnit {
  private typealias Entry = (dimension: Dimension, factor: Double, symbol: String)

  /// The dimension this unit measures, or nil for `.unspecified` / unknown values.
  public var dimension: Dimension? { entry?.dimension }

  /// Factor from this unit to its dimension's base unit (t CO2e, t, t C, MJ, ha, m³, ...).
  public var factorToBase: Double? { entry?.factor }

  /// A short symbol for display, e.g. "t CO2e/yr".
  public var symbol: String { entry?.symbol ?? "?" }

  /// The unit whose `symbol` is `symbol` ("t CO2e/yr" → `.tCo2EPerYr`), or nil.
  public init?(symbol: String) {
    guard !symbol.isEmpty, let unit = Self.bySymbol[symbol] else { return nil }
    self = unit
  }

  private static let bySymbol: [String: MeasurementUnit] = Dictionary(
    table.map { ($0.value.symbol, $0.key) }, uniquingKeysWith: { first, second in first.rawValue < second.rawValue ? first : second })

  /// This unit's row of `table`, found by its protobuf number: a small call looks units up
  /// several times, and hashing the enum into the dictionary each time cost 3.6 % of a
  /// units.Convert call (callgrind: 25 890 → 24 970 instructions).
  private var entry: Entry? {
    let index = rawValue
    return index >= 0 && index < Self.entries.count ? Self.entries[index] : nil
  }

  /// `table` indexed by the units' protobuf numbers (nil where no unit is defined).
  private static let entries: [Entry?] = {
    var entries = [Entry?](repeating: nil, count: (table.keys.map(\.rawValue).max() ?? 0) + 1)
    for (unit, entry) in table { entries[unit.rawValue] = entry }
    return entries
  }()

  private static let table: [MeasurementUnit: Entry] = [
    .tCo2E: (.co2eMass, 1, "t CO2e"), .kgCo2E: (.co2eMass, 1e-3, "kg CO2e"),
    .gCo2E: (.co2eMass, 1e-6, "g CO2e"),
    .t: (.mass, 1, "t"), .kg: (.mass, 1e-3, "kg"), .g: (.mass, 1e-6, "g"),
    .tC: (.carbonMass, 1, "t C"), .kgC: (.carbonMass, 1e-3, "kg C"),
    .tCPerHa: (.carbonDensity, 1, "t C/ha"),
    .tCPerHaPerYr: (.carbonRate, 1, "t C/ha/yr"),
    .mj: (.energy, 1, "MJ"), .gj: (.energy, 1000, "GJ"), .kwh: (.energy, 3.6, "kWh"),
    .mwh: (.energy, 3600, "MWh"),
    .ha: (.area, 1, "ha"), .m2: (.area, 1e-4, "m²"), .km2: (.area, 100, "km²"),
    .m3: (.volume, 1, "m³"), .l: (.volume, 1e-3, "L"),
    .gCo2EPerMj: (.intensityPerEnergy, 1, "g CO2e/MJ"),
    .gCo2EPerKg: (.intensityPerMass, 1, "g CO2e/kg"),
    .kgCo2EPerKg: (.intensityPerMass, 1000, "kg CO2e/kg"),
    .tCo2EPerYr: (.co2eFlow, 1, "t CO2e/yr"), .tCPerYr: (.carbonFlow, 1, "t C/yr"),
    .haPerYr: (.areaFlow, 1, "ha/yr"),
    .percent: (.dimensionless, 0.01, "%"), .ratio: (.dimensionless, 1, ""),
    .year: (.time, 1, "yr"), .mjPerKg: (.heatingValue, 1, "MJ/kg"),
    .gPerKg: (.massFraction, 1, "g/kg"), .gPerCm3: (.bulkDensity, 1, "g/cm³"),
    .cm: (.length, 1, "cm"), .tPerHa: (.massPerArea, 1, "t/ha"),
    .kgPerHa: (.massPerArea, 1e-3, "kg/ha"),
    .count: (.count, 1, ""),
    .tPerHaPerYr: (.massPerAreaRate, 1, "t/ha/yr"), .kgPerHaPerYr: (.massPerAreaRate, 1e-3, "kg/ha/yr"),
    .mjPerHaPerYr: (.energyPerAreaRate, 1, "MJ/ha/yr"), .kgPerMj: (.massPerEnergy, 1, "kg/MJ"),
  ]
}

/// Why a quantity could not be converted.
public enum UnitConversionError: Error, Equatable, CustomStringConvertible {
  /// The source or target unit is unspecified or unknown.
  case unknownUnit(MeasurementUnit)
  /// The two units measure different things (e.g. hectares and tonnes).
  case incompatible(from: MeasurementUnit, to: MeasurementUnit)
  /// The value is NaN or infinite.
  case notFinite

  public var description: String {
    switch self {
    case .unknownUnit(let unit): return "unit \(unit) is not a known unit"
    case .incompatible(let from, let to):
      return "cannot convert \(from.symbol) to \(to.symbol): they measure different things"
    case .notFinite: return "value is not a finite number"
    }
  }
}

extension Quantity {
  /// Creates a quantity.
  public init(_ value: Double, _ unit: MeasurementUnit) {
    self.init()
    self.value = value
    self.unit = unit
  }

  /// This quantity expressed in `target`, a unit of the same dimension.
  ///
  /// Carbon and CO2e are different dimensions on purpose: use ``carbonToCo2e()`` to cross.
  public func converted(to target: MeasurementUnit) throws(UnitConversionError) -> Quantity {
    guard value.isFinite else { throw .notFinite }
    guard let from = unit.dimension, let fromFactor = unit.factorToBase else {
      throw .unknownUnit(unit)
    }
    guard let to = target.dimension, let toFactor = target.factorToBase else {
      throw .unknownUnit(target)
    }
    guard from == to else { throw .incompatible(from: unit, to: target) }
    return Quantity(value * fromFactor / toFactor, target)
  }

  /// A carbon mass (t C, kg C) or carbon flow (t C/yr) as the CO2 it is equivalent to (× 44/12).
  public func carbonToCo2e() throws(UnitConversionError) -> Quantity {
    switch unit {
    case .tC, .kgC:
      let tonnes = try converted(to: .tC).value
      return Quantity(tonnes * CarbonConstants.co2PerCarbon, .tCo2E)
    case .tCPerYr:
      guard value.isFinite else { throw .notFinite }
      return Quantity(value * CarbonConstants.co2PerCarbon, .tCo2EPerYr)
    default:
      throw .incompatible(from: unit, to: .tCo2E)
    }
  }
}

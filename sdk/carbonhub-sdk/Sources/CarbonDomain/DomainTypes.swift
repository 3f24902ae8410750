// Short names for the generated domain messages. Plugins and the host use these rather than
// the protoc-generated `Carbon_Domain_V1_*` spellings.

/// A unit of measure; see ``MeasurementUnit/dimension`` and ``Quantity/converted(to:)``.
/// (Not `Unit`, which Foundation already names.)
public typealias MeasurementUnit = Carbon_Domain_V1_Unit
/// A value with its unit.
public typealias Quantity = Carbon_Domain_V1_Quantity
/// A greenhouse gas.
public typealias Gas = Carbon_Domain_V1_Gas
/// A set of 100-year global warming potentials.
public typealias GwpSet = Carbon_Domain_V1_GwpSet
/// A mass of one gas in kilograms.
public typealias GasMass = Carbon_Domain_V1_GasMass
/// A calendar date.
public typealias CalendarDate = Carbon_Domain_V1_CalendarDate
/// An inclusive range of years.
public typealias YearRange = Carbon_Domain_V1_YearRange
/// A territory reference (region, department, EPCI, commune).
public typealias Territory = Carbon_Domain_V1_Territory
/// The kind of a territory code.
public typealias TerritoryKind = Carbon_Domain_V1_TerritoryKind
/// A sector of the national low-carbon strategy.
public typealias SnbcSector = Carbon_Domain_V1_SnbcSector
/// A land-use category.
public typealias LandUse = Carbon_Domain_V1_LandUse
/// The trace every module result carries.
public typealias CalculationTrace = Carbon_Domain_V1_CalculationTrace
/// One intermediate term of a trace.
public typealias TraceTerm = Carbon_Domain_V1_TraceTerm
/// A reference data set used by a result.
public typealias DataSetVersion = Carbon_Domain_V1_DataSetVersion
/// A decision applied where a method is ambiguous.
public typealias Decision = Carbon_Domain_V1_Decision
/// A rule that rejected, capped or changed a result.
public typealias RuleOutcome = Carbon_Domain_V1_RuleOutcome

import CarbonPluginKit

/// The reference year of a comparison must lie inside the AMS projection of Annexe II, which
/// starts in 2015 (« Projeté (AMS 2018) 2015 2025 2030 2050 »). The guide gives no trajectory
/// before it and asks to reason on the projection's rates (« Il est ainsi plus pertinent de
/// raisonner en taux de variation des émissions projetées entre 2015 et l'année cible »):
/// an earlier reference year would need an extrapolation the guide does not provide, so it is
/// refused by this rule, never silently clamped or extrapolated.
enum ReferenceYearRule {
  /// The rule's name, the field of the FAILED_PRECONDITION error.
  static let name = "snbc.reference_year.ams_starts_2015"
  /// First year of the AMS projection.
  static let amsFirstYear: Int32 = 2015
  /// Last possible reference year (the long-term objective is 2050).
  static let lastReferenceYear: Int32 = 2049
  /// Years accepted as input at all (the guide's historical tables start in 1990).
  static let plausibleYears: ClosedRange<Int32> = 1990...lastReferenceYear

  /// The year when the AMS projection covers it; INVALID_ARGUMENT outside 1990-2049 and
  /// FAILED_PRECONDITION (this rule) for 1990-2014.
  @discardableResult
  static func validate(_ year: Int32, field: String) throws(ModuleError) -> Int32 {
    try Validate.inRange(year, plausibleYears, field)
    guard year >= amsFirstYear else {
      throw .failedPrecondition(
        rule: name,
        "\(field) \(year) is before 2015, where the AMS projection of Annexe II starts; the guide gives no "
          + "trajectory to extrapolate and says « il est ainsi plus pertinent de raisonner en taux de variation "
          + "des émissions projetées entre 2015 et l'année cible »: compare from 2015 or a later year")
    }
    return year
  }
}

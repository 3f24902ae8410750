/// 100-year global warming potentials, from the embedded data file `Data/gwp-sets.csv`.
public enum GlobalWarmingPotential {
  /// Version of the GWP data set, reported in traces.
  public static let dataSet: DataSetVersion = {
    var version = DataSetVersion()
    version.name = "gwp-sets"
    version.version = "2013-ar5+2007-ar4"
    version.source = "IPCC AR5 WG1 (2013) Table 8.7; IPCC AR4 WG1 (2007) Table 2.14"
    return version
  }()

  /// The set used when a request leaves it unspecified (the methods' common choice).
  public static let defaultSet: GwpSet = .ar5

  /// kg CO2e per kg of `gas` under `set` (`.unspecified` means ``defaultSet``), or nil when the
  /// gas or the set is unknown.
  public static func factor(for gas: Gas, in set: GwpSet) -> Double? {
    let set = set == .unspecified ? defaultSet : set
    return table[Key(set: set, gas: gas)]
  }

  /// CO2e (kg) of a gas mass, or nil when the gas or the set is unknown.
  public static func co2eKg(of mass: GasMass, in set: GwpSet) -> Double? {
    factor(for: mass.gas, in: set).map { $0 * mass.massKg }
  }

  private struct Key: Hashable {
    let set: GwpSet
    let gas: Gas
  }

  private static let table: [Key: Double] = {
    // The file ships inside the binary; a malformed file is a build defect caught by tests.
    guard let csv = try? ReferenceTable(bytes: PackageResources.gwp_sets_csv) else { return [:] }
    let sets: [String: GwpSet] = ["AR5": .ar5, "AR4": .ar4]
    let gases: [String: Gas] = [
      "CO2": .co2, "CH4": .ch4, "N2O": .n2O, "FLUORINATED_CO2E": .fluorinatedCo2E,
    ]
    var table: [Key: Double] = [:]
    for record in csv.records {
      guard let set = sets[record["gwp_set"] ?? ""], let gas = gases[record["gas"] ?? ""],
        let value = Double(record["gwp"] ?? "")
      else { continue }
      table[Key(set: set, gas: gas)] = value
    }
    return table
  }()
}

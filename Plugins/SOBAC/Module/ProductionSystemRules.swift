import CarbonDomain
import CarbonPluginKit

/// The production system of a farm (§4.1, §4.3.1; Annex 5 "PRODUCTIONS" and "Productions
/// animales"): which yields the yield safeguard follows.
///
/// §4.3.1: "la Méthode SOBAC'ECO-TMM propose de suivre les variables suivantes […] UGB,
/// production annuelle […] tonnage vendu des différentes cultures et fourrages, […] quantité de
/// lait vendu, quantité de viande vendue en vif"; Annex 5 computes "Rendement moyen annuel en
/// viande (t/UGB)" and "en lait (hL/UGB)".
struct ProductionSystemRules: Sendable {
  /// The system's name in the trace. A switch, not `String(describing:)`, whose reflection
  /// cost 325 000 instructions per farm (callgrind, a seventh of the whole evaluation).
  static func name(of system: Carbon_Sobac_V1_ProductionSystem) -> String {
    switch system {
    case .arable: return "ARABLE"
    case .livestock: return "LIVESTOCK"
    case .mixed: return "MIXED"
    case .unspecified: return "UNSPECIFIED"
    case .UNRECOGNIZED(let value): return "UNRECOGNIZED(\(value))"
    }
  }

  /// Checks the farm's animal production against its system and returns the system used:
  /// - ARABLE sells no milk or meat;
  /// - LIVESTOCK and MIXED sell milk or meat in at least one year, and every year that sells
  ///   them has its UGB (the yields' denominator);
  /// - UNSPECIFIED is ARABLE when no milk or meat is sold, refused otherwise.
  func check(
    _ farm: Carbon_Sobac_V1_Farm, path: String, years: [(year: Carbon_Sobac_V1_FarmYear, path: String)]
  ) throws(ModuleError) -> Carbon_Sobac_V1_ProductionSystem {
    if case .UNRECOGNIZED = farm.productionSystem {
      throw .invalidArgument("\(path).production_system", "has an unknown value; use ARABLE, LIVESTOCK or MIXED")
    }
    let animal = years.first { $0.year.milkSoldHl > 0 || $0.year.meatSoldLiveT > 0 }
    switch farm.productionSystem {
    case .unspecified:
      if let animal {
        throw .invalidArgument(
          "\(path).production_system",
          "is required: \(animal.path) sells milk or meat; give LIVESTOCK or MIXED so that the milk and meat yields enter the yield safeguard")
      }
      return .arable
    case .arable:
      if let animal {
        let field = animal.year.milkSoldHl > 0 ? "milk_sold_hl" : "meat_sold_live_t"
        throw .invalidArgument(
          "\(animal.path).\(field)", "an ARABLE farm sells no milk or meat: set production_system to LIVESTOCK or MIXED")
      }
      return .arable
    default:
      guard animal != nil else {
        throw .invalidArgument(
          "\(path).production_system",
          "\(farm.productionSystem) needs the animal production: give milk_sold_hl or meat_sold_live_t in the years (or use ARABLE)")
      }
      for (year, yearPath) in years where (year.milkSoldHl > 0 || year.meatSoldLiveT > 0) && year.ugb <= 0 {
        throw .invalidArgument(
          "\(yearPath).ugb", "is required (> 0) in a year that sells milk or meat: the yields are per UGB (hL/UGB, t/UGB, Annex 5)")
      }
      // The animal yields are reported under the names milk and meat.
      for (year, yearPath) in years {
        for (index, crop) in year.crops.enumerated() where [YieldAnalysis.milk, YieldAnalysis.meat].contains(crop.crop) {
          throw .invalidArgument(
            "\(yearPath).crops[\(index)].crop", "\(crop.crop.quoted) is the name of an animal production's yield: rename the crop")
        }
      }
      return farm.productionSystem
    }
  }
}

import CarbonDomain
import CarbonPluginKit
import CarbonPluginTesting
import Foundation

@testable import SOBACModule

typealias FarmYear = Carbon_Sobac_V1_FarmYear
typealias Farm = Carbon_Sobac_V1_Farm
typealias InputLine = Carbon_Sobac_V1_InputLine

/// gRPC paths of the module.
enum Path {
  static let list = "/carbon.sobac.v1.Sobac/ListReferenceData"
  static let year = "/carbon.sobac.v1.Sobac/FarmYearEmissions"
  static let farm = "/carbon.sobac.v1.Sobac/EvaluateFarmProject"
  static let collective = "/carbon.sobac.v1.Sobac/EvaluateCollectiveProject"
  static let batch = "/carbon.sobac.v1.Sobac/EvaluateCollectiveBatch"
  static let stream = "/carbon.sobac.v1.Sobac/EvaluateCollectiveStream"
  static let importCsv = "/carbon.sobac.v1.Sobac/ImportLedgerCsv"
  static let evaluateCsv = "/carbon.sobac.v1.Sobac/EvaluateLedgerCsv"
}

/// kg CO2e per kg N2O-N: 44/28 × 265.
let n2oCO2ePerKgN2ON = 44.0 / 28.0 * 265.0
/// Field N2O of 1 kg mineral N, kg CO2e: (0.016 + 0.11 × 0.01 + 0.24 × 0.011) × 44/28 × 265.
let fieldN2OPerKgMineralN = 0.01974 * n2oCO2ePerKgN2ON
/// Field N2O of 1 kg organic N, kg CO2e: (0.006 + 0.21 × 0.01 + 0.24 × 0.011) × 44/28 × 265.
let fieldN2OPerKgOrganicN = 0.01074 * n2oCO2ePerKgN2ON

/// The repository root (the test folder is a symlink in the dev package: resolve it).
func repositoryRoot(file: String = #filePath) -> String {
  URL(fileURLWithPath: file).resolvingSymlinksInPath()
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
}

/// The module in process.
func makeHarness(_ config: String = "{}") throws -> ModuleHarness<SobacModule> {
  try ModuleHarness<SobacModule>(configJSON: config)
}

/// An input line.
func line(_ code: String, _ unit: InputUnit, _ purchases: Double, configure: (inout InputLine) -> Void = { _ in }) -> InputLine {
  var input = InputLine()
  input.inputCode = code
  input.unit = unit
  input.purchases = purchases
  configure(&input)
  return input
}

/// A crop-year.
func crop(_ name: String, area: Double, sold: Double, ift: String = "") -> Carbon_Sobac_V1_CropYear {
  var crop = Carbon_Sobac_V1_CropYear()
  crop.crop = name
  crop.areaHa = area
  crop.soldT = sold
  crop.iftCrop = ift
  return crop
}

/// A one-crop farm whose 10 years are identical except for what `configure` changes; the
/// project halves the N and the plant-protection products, and every trigger is met.
func steadyFarm(id: String = "F", notification: Int32 = 2020, configure: (Int32, inout FarmYear) -> Void = { _, _ in }) -> Farm {
  var farm = Farm()
  farm.farmID = id
  farm.notificationYear = notification
  farm.iftReference = .specific
  farm.farmType = .fieldCrops
  for year in (notification - 5)...(notification + 4) {
    let reference = year < notification
    var record = FarmYear()
    record.year = year
    record.sauHa = 50
    record.crops = [crop("maïs", area: 50, sold: 450, ift: "mais_grain")]
    record.inputs = [
      line("ammonium_nitrate_33_5", .kgN, reference ? 4000 : 2000),
      line("plant_protection_generic", .kgActiveSubstance, reference ? 20 : 10),
    ]
    record.iftHerbicide = reference ? 2 : 1
    record.iftNonHerbicide = reference ? 1 : 0.5
    configure(year, &record)
    farm.years.append(record)
  }
  return farm
}

/// The audit's farm (audit/t_recon2.py): 100 ha SAU, 50 ha wheat selling 350 t a year; 3000
/// kg N of ammonium nitrate and 50 kg a.s. a reference year, 2000 and 30 a project year;
/// irrigation 10 000 → 6 000 m3, IFT 2 / 3 → 1.5 / 1.8: every trigger met, no rabais or bonus.
/// E_ref = 5 × (3000 × 12.1903 + 50 × 9.861) = 185 319.75 kg, E_proj = 5 × (2000 × 12.1903 +
/// 30 × 9.861) = 123 382.15 kg: 61.9376 t (12.1903 = 3.97 + 0.01974 × 44/28 × 265, per kg N).
/// `configure` changes a year after that.
func auditFarm(
  id: String = "F1", notification: Int32 = 2020, configure: (Int32, inout FarmYear) -> Void = { _, _ in }
) -> Farm {
  steadyFarm(id: id, notification: notification) { year, record in
    let reference = year < notification
    record.sauHa = 100
    record.crops = [crop("blé", area: 50, sold: 350, ift: "ble_tendre")]
    record.inputs = [
      line("ammonium_nitrate_33_5", .kgN, reference ? 3000 : 2000),
      line("plant_protection_generic", .kgActiveSubstance, reference ? 50 : 30),
    ]
    record.irrigationM3 = reference ? 10000 : 6000
    record.iftHerbicide = reference ? 2 : 1.5
    record.iftNonHerbicide = reference ? 3 : 1.8
    record.permanentGrasslandHa = 10
    record.hedgesHa = 2
    configure(year, &record)
  }
}

/// Evaluates one farm in process.
func evaluate(_ farm: Farm, config: String = "{}") throws -> Carbon_Sobac_V1_FarmProjectResult {
  var request = Carbon_Sobac_V1_EvaluateFarmProjectRequest()
  request.farm = farm
  return try makeHarness(config).call(Path.farm, request, as: Carbon_Sobac_V1_FarmProjectResult.self)
}

/// Evaluates a collective project in process.
func evaluateCollective(_ farms: [Farm]) throws -> Carbon_Sobac_V1_CollectiveProjectResponse {
  var request = Carbon_Sobac_V1_CollectiveProjectRequest()
  request.projectName = "audit"
  request.farms = farms
  return try makeHarness().call(Path.collective, request, as: Carbon_Sobac_V1_CollectiveProjectResponse.self)
}

/// The error a call throws, or nil.
func error(of body: () throws -> Void) -> ModuleError? {
  do { try body() } catch let error as ModuleError { return error } catch { return nil }
  return nil
}

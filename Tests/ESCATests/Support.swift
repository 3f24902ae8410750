import CarbonDomain
import CarbonPluginKit
import CarbonPluginTesting
import Foundation
@testable import ESCAModule

/// Shared helpers of the ESCA tests.
enum Esca {
  static let service = "/carbon.esca.v1.Esca/"

  /// A harness around a fresh module instance.
  static func harness() throws -> ModuleHarness<EscaModule> { try ModuleHarness<EscaModule>() }

  /// `Plugins/ESCA/examples`, found from this file's path.
  static func examplesDirectory(file: String = #filePath) -> String {
    var url = URL(fileURLWithPath: file).resolvingSymlinksInPath()
    while url.path != "/" {
      url.deleteLastPathComponent()
      let candidate = url.appendingPathComponent("Plugins/ESCA/examples")
      if FileManager.default.fileExists(atPath: candidate.path) { return candidate.path }
    }
    return "Plugins/ESCA/examples"
  }

  /// Calls AssessDossier.
  static func assessDossier(_ request: FarmDossier) throws -> DossierResponse {
    try harness().call(service + "AssessDossier", request, as: DossierResponse.self)
  }

  /// The sample dossier of Plugins/ESCA/examples/AssessDossier.json (case 2, the calculator's
  /// model, a real CSA).
  static func sampleDossier() throws -> FarmDossier {
    let json = try String(contentsOfFile: examplesDirectory() + "/AssessDossier.json", encoding: .utf8)
    return try FarmDossier(jsonString: json)
  }

  /// Calls a method and returns the thrown ModuleError (nil when the call succeeded).
  static func error<Request: SwiftProtobufMessage, Response: SwiftProtobufMessage>(
    _ method: String, _ request: Request, as: Response.Type
  ) throws -> ModuleError? {
    let module = try harness()
    do {
      _ = try module.call(service + method, request, as: Response.self)
      return nil
    } catch {
      return error
    }
  }

  /// The calculator page's site and categories (warm temperate dry, HAC, full/low → no-till/high w/o manure).
  static var calculatorModel: Carbon_Esca_V1_ModelledStockRequest {
    var request = Carbon_Esca_V1_ModelledStockRequest()
    request.climateZones = [.warmTemperateDry]
    request.soilType = .highActivityClay
    request.landUse = .longTermCultivated
    request.previous.tillage = .full
    request.previous.input = .low
    request.current.tillage = .noTill
    request.current.input = .highWithoutManure
    request.equilibriumYears = 20
    return request
  }

  /// r of the calculator example: (24 × 0.76 × 1.04 × 1.04 − 24 × 0.76 × 1 × 0.95) / 20.
  static let calculatorRate = (24 * 0.76 * 1.04 * 1.04 - 24 * 0.76 * 1.0 * 0.95) / 20

  static func date(_ year: Int32, _ month: Int32, _ day: Int32) -> CalendarDate {
    var date = CalendarDate()
    date.year = year
    date.month = month
    date.day = day
    return date
  }
}

import SwiftProtobuf
typealias SwiftProtobufMessage = SwiftProtobuf.Message

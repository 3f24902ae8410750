import CarbonDomain
import CarbonPluginKit
import CarbonPluginTesting
import Foundation
import Testing

@testable import ALDOModule

/// Shared helpers of the ALDO tests.
enum Aldo {
  static let flux = "/carbon.aldo.v1.Aldo/ComputeFlux"
  static let summarize = "/carbon.aldo.v1.Aldo/SummarizeBalance"
  static let stocks = "/carbon.aldo.v1.Aldo/ComputeStocks"
  static let chart = "/carbon.aldo.v1.Aldo/RenderFluxChart"
  static let list = "/carbon.aldo.v1.Aldo/ListReferenceData"

  static func harness() throws -> ModuleHarness<AldoModule> { try ModuleHarness<AldoModule>() }

  /// The repository's `Plugins/ALDO/examples` folder, found from this file's path.
  static var examplesDirectory: String {
    // Resolve symlinks: a development package may link the test folder from elsewhere.
    var url = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
    while url.path != "/" {
      url.deleteLastPathComponent()
      let candidate = url.appendingPathComponent("Plugins/ALDO/examples")
      if FileManager.default.fileExists(atPath: candidate.path) { return candidate.path }
    }
    return "Plugins/ALDO/examples"
  }

  /// A part in zone 2_1, Hauts-de-France (NORD-OUEST), as the README's worked examples.
  static func part(
    _ name: String = "p", zone: String = "2_1", region: String = "32",
    clc: [(String, String, Double)] = [], annual: [(LandUse, LandUse, Double)] = [],
    stands: [Carbon_Aldo_V1_ForestStand] = []
  ) -> Carbon_Aldo_V1_TerritoryPart {
    var part = Carbon_Aldo_V1_TerritoryPart()
    part.name = name
    part.pedoclimaticZone = zone
    part.regionCode = region
    part.clcChanges = clc.map { from, to, area in
      var change = Carbon_Aldo_V1_ClcChange()
      change.code2012 = from
      change.code2018 = to
      change.areaHa = area
      return change
    }
    part.annualChanges = annual.map { from, to, area in
      var change = Carbon_Aldo_V1_AnnualChange()
      change.fromLandUse = from
      change.toLandUse = to
      change.areaHaPerYr = area
      return change
    }
    part.forestStands = stands
    return part
  }

  static func stand(
    _ groupeser: String, _ greco: String, _ rad13: String, _ bassin: String,
    broadleaf: Double = 0, conifer: Double = 0, mixed: Double = 0, poplar: Double = 0
  ) -> Carbon_Aldo_V1_ForestStand {
    var stand = Carbon_Aldo_V1_ForestStand()
    stand.groupeser = groupeser
    stand.greco = greco
    stand.rad13 = rad13
    stand.bassinPopulicole = bassin
    stand.broadleafHa = broadleaf
    stand.coniferHa = conifer
    stand.mixedHa = mixed
    stand.poplarHa = poplar
    return stand
  }

  static func request(_ parts: [Carbon_Aldo_V1_TerritoryPart]) -> Carbon_Aldo_V1_ComputeFluxRequest {
    var request = Carbon_Aldo_V1_ComputeFluxRequest()
    request.territoryName = "test"
    request.parts = parts
    return request
  }

  static func compute(_ request: Carbon_Aldo_V1_ComputeFluxRequest) throws -> Carbon_Aldo_V1_ComputeFluxResponse {
    try harness().call(flux, request, as: Carbon_Aldo_V1_ComputeFluxResponse.self)
  }

  /// The entries of a pair and pool (observatory sign).
  static func entries(
    _ response: Carbon_Aldo_V1_ComputeFluxResponse, _ from: LandUse?, _ to: LandUse?, _ pool: Carbon_Aldo_V1_Pool
  ) -> [Carbon_Aldo_V1_FluxEntry] {
    response.entries.filter {
      (from == nil || $0.fromLandUse == from!) && (to == nil || $0.toLandUse == to!) && $0.pool == pool
    }
  }

  static func group(_ response: Carbon_Aldo_V1_ComputeFluxResponse, _ group: Carbon_Aldo_V1_LandUseGroup) -> Double {
    response.balance.landUses.first(where: { $0.group == group })?.netFluxTCo2EPerYr ?? .nan
  }

  /// Asserts a call fails with a status and field.
  static func expectError<Request: SwiftProtobuf.Message>(
    _ path: String, _ request: Request, status: ModuleStatus, field: String,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let harness = try harness()
    do {
      _ = try harness.call(path, request, as: Carbon_Aldo_V1_ComputeFluxResponse.self)
      Issue.record("expected \(status) on \(field), the call succeeded", sourceLocation: sourceLocation)
    } catch {
      #expect(error.status == status, sourceLocation: sourceLocation)
      #expect(error.field == field, "\(error.message)", sourceLocation: sourceLocation)
    }
  }
}

import SwiftProtobuf

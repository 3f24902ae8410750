import CarbonDomain
import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import Foundation
import Testing

@testable import SOBACModule

/// Collective projects: sums, audit sample (Tableau 7), streaming, and the examples folder.
@Suite(.cpuBound) struct CollectiveProjectTests {
  @Test func threeFarmsAreSummed() throws {
    var request = Carbon_Sobac_V1_CollectiveProjectRequest()
    request.projectName = "trois fermes"
    var maec = steadyFarm(id: "B")
    maec.maecContractedDuringProject = true
    var blocked = steadyFarm(id: "C") { _, record in record.iftNonHerbicide = 1 }
    blocked.farmType = .livestock
    request.farms = [steadyFarm(id: "A"), maec, blocked]
    let response = try makeHarness().call(Path.collective, request, as: Carbon_Sobac_V1_CollectiveProjectResponse.self)
    // Each farm avoids 5 × 2000 kg N × 12.1903 + 50 kg a.s. × 9.861 = 122.39605 t CO2e.
    let perFarm = (5 * 2000 * (3.97 + fieldN2OPerKgMineralN) + 50 * 9.861) / 1000
    #expect(abs(response.farms[0].finalReductionTCo2E - perFarm) < 1e-9)
    // MAEC: −20 % on N and plant protection, i.e. on the whole reduction here.
    #expect(abs(response.farms[1].finalReductionTCo2E - 0.8 * perFarm) < 1e-9)
    // C does not reduce its IFT non-herbicide (1 → 1), but §4.3.2 "Pour un projet collectif, on
    // considérera un IFT moyen (en calculant une somme des IFT individuels pondérée par la
    // surface de chaque exploitation)": the group's IFT non-herbicide goes from 1 to
    // (0.5 + 0.5 + 1)/3 = 0.6667 (equal SAU), −33.3 % ≥ −30 %: the trigger is met for all three.
    #expect(response.farms[2].coBenefits.iftNonHerbicide.status == .notMet)
    #expect(!response.farms[2].coBenefits.iftNonHerbicide.blocking)
    #expect(response.farms[2].coBenefits.iftTriggerScope == .collective)
    #expect(response.farms[2].coBenefits.collectiveIftNonHerbicide.status == .met)
    #expect(abs(response.farms[2].finalReductionTCo2E - perFarm) < 1e-9)
    #expect(response.summary.farmsBlocked == 0)
    #expect(response.summary.collectiveIftTriggersMet)
    #expect(abs(response.summary.collectiveIftNonHerbicide.reductionPercent - 100.0 / 3) < 1e-9)
    #expect(abs(response.summary.reductionBeforeAdjustmentsTCo2E - 3 * perFarm) < 1e-9)
    #expect(abs(response.summary.finalReductionTCo2E - 2.8 * perFarm) < 1e-9)
    // Collective IFT herbicide: equal SAU → mean of 2, 2, 2 (reference) and 1, 1, 2 (project).
    #expect(abs(response.summary.collectiveIftHerbicideReference - 2) < 1e-12)
    #expect(abs(response.summary.collectiveIftHerbicideProject - 1) < 1e-12)
    #expect(abs(response.summary.collectiveIftNonHerbicideProject - 2.0 / 3.0) < 1e-12)
    #expect(response.summary.auditSample.auditAll)
    #expect(response.summary.auditSample.farmsToAudit == 3)
  }

  func sample(_ counts: [Carbon_Sobac_V1_FarmType: Int]) throws -> Carbon_Sobac_V1_AuditSample {
    var trace = TraceBuilder(method: "test", version: "1")
    return AuditSampler(rows: try SobacReferenceData.load().auditRows).sample(farmsByType: counts, trace: &trace)
  }

  @Test func auditSampleFollowsTableauSeven() throws {
    // ≤ 60 farms: every farm.
    #expect(try sample([.fieldCrops: 60]).farmsToAudit == 60)
    // 61 farms, one type: row 60 → 30.
    let one = try sample([.fieldCrops: 61])
    #expect(one.tableRowFarms == 60)
    #expect(one.farmsToAudit == 30)
    // 250 farms of 2 types: row 200 → 35 of each.
    let two = try sample([.fieldCrops: 200, .livestock: 50])
    #expect(two.tableRowFarms == 200)
    #expect(two.byType.map(\.farmsToAudit) == [35, 35])
    // 1500 farms of 3 types, one type with only 12 farms: 40 each, but never more than exist.
    let three = try sample([.fieldCrops: 1000, .livestock: 488, .marketGardeningOrchardsVineyards: 12])
    #expect(three.tableRowFarms == 1000)
    #expect(three.byType.map(\.farmsToAudit) == [40, 40, 12])
    #expect(three.farmsToAudit == 92)
    // 10 000 farms, 3 types: row 2000 → 50 each.
    #expect(try sample([.fieldCrops: 5000, .livestock: 3000, .marketGardeningOrchardsVineyards: 2000]).farmsToAudit == 150)
  }

  @Test func largeCollectiveNeedsFarmTypes() throws {
    var request = Carbon_Sobac_V1_CollectiveProjectRequest()
    for index in 0..<61 {
      var farm = steadyFarm(id: "F\(index)")
      if index == 42 { farm.farmType = .unspecified }
      request.farms.append(farm)
    }
    let failure = error { _ = try makeHarness().call(Path.collective, request, as: Carbon_Sobac_V1_CollectiveProjectResponse.self) }
    #expect(failure?.field == "farms[42].farm_type")
  }

  @Test func batchStreamsOneMessagePerFarmThenTheSummary() throws {
    var request = Carbon_Sobac_V1_CollectiveProjectRequest()
    request.farms = (0..<120).map { index in
      var farm = steadyFarm(id: "F\(index)")
      farm.farmType = index % 2 == 0 ? .fieldCrops : .livestock
      return farm
    }
    let messages = try makeHarness().stream(Path.batch, request, as: Carbon_Sobac_V1_CollectiveBatchMessage.self)
    try #require(messages.count == 121)
    #expect(messages[0].farm.farmID == "F0")
    #expect(messages[119].farm.farmID == "F119")
    let summary = messages[120].summary
    #expect(summary.farms == 120)
    let perFarm = (5 * 2000 * (3.97 + fieldN2OPerKgMineralN) + 50 * 9.861) / 1000
    #expect(abs(summary.finalReductionTCo2E - 120 * perFarm) < 1e-6)
    // 120 farms, 2 types: row 100 → 30 of each.
    #expect(summary.auditSample.farmsToAudit == 60)
  }

  /// `farms` cut into stream requests of `sizes` farms; the project name in the first only.
  func pieces(_ farms: [Farm], sizes: [Int], name: String = "flux") -> [Carbon_Sobac_V1_CollectiveProjectRequest] {
    var rest = farms[...]
    return sizes.enumerated().map { position, size in
      var request = Carbon_Sobac_V1_CollectiveProjectRequest()
      if position == 0 { request.projectName = name }
      request.farms = Array(rest.prefix(size))
      rest = rest.dropFirst(size)
      return request
    }
  }

  func typedFarms(_ count: Int) -> [Farm] {
    (0..<count).map { index in
      var farm = steadyFarm(id: "F\(index)")
      farm.farmType = index % 3 == 0 ? .livestock : .fieldCrops
      return farm
    }
  }

  @Test func streamGivesTheSameMessagesAsTheBatch() throws {
    let farms = typedFarms(130)
    var whole = Carbon_Sobac_V1_CollectiveProjectRequest()
    whole.projectName = "flux"
    whole.farms = farms
    let harness = try makeHarness()
    let expected = try harness.stream(Path.batch, whole, as: Carbon_Sobac_V1_CollectiveBatchMessage.self)
    let streamed = try harness.bidi(Path.stream, pieces(farms, sizes: [1, 60, 0, 69]), as: Carbon_Sobac_V1_CollectiveBatchMessage.self)
    #expect(streamed.count == 131)
    #expect(streamed.dropLast().map(\.farm.farmID) == farms.map(\.farmID))
    // The farms' figures are those of the batch; only the field paths of their traces differ.
    #expect(zip(streamed.dropLast(), expected.dropLast()).allSatisfy { $0.farm.finalReductionTCo2E == $1.farm.finalReductionTCo2E })
    let summary = try #require(streamed.last?.summary)
    // Same figures; only the trace differs (the stream decides the group's IFT at the end).
    var comparable = summary, batchSummary = try #require(expected.last?.summary)
    comparable.trace = .init()
    batchSummary.trace = .init()
    #expect(comparable == batchSummary)
    #expect(streamed.first?.farm.coBenefits.iftTriggerScope == .collectivePending)
    #expect(expected.first?.farm.coBenefits.iftTriggerScope == .collective)
    #expect(summary.projectName == "flux" && summary.farms == 130)
    // 130 farms of 2 types: Tableau 7's row 100 → 30 of each type.
    #expect(summary.auditSample.tableRowFarms == 100)
    #expect(summary.auditSample.farmsToAudit == 60)
    let perFarm = (5 * 2000 * (3.97 + fieldN2OPerKgMineralN) + 50 * 9.861) / 1000
    #expect(abs(summary.finalReductionTCo2E - 130 * perFarm) < 1e-6)
  }

  @Test func streamRefusesADuplicateFarmAcrossRequests() throws {
    let farms = typedFarms(3) + [steadyFarm(id: "F1")]
    let failure = error { _ = try makeHarness().bidi(Path.stream, pieces(farms, sizes: [3, 1]), as: Carbon_Sobac_V1_CollectiveBatchMessage.self) }
    #expect(failure?.field == "requests[1].farms[0].farm_id")
    #expect(failure?.message.contains("requests[0].farms[1]") == true)
  }

  @Test func streamChecksFarmTypesOnceTheCountIsKnown() throws {
    var farms = typedFarms(61)
    farms[42].farmType = .unspecified
    // 61 farms: the missing type is an error, named where it was sent.
    let failure = error { _ = try makeHarness().bidi(Path.stream, pieces(farms, sizes: [40, 21]), as: Carbon_Sobac_V1_CollectiveBatchMessage.self) }
    #expect(failure?.field == "requests[1].farms[2].farm_type")
    // 60 farms: every farm is audited, no type needed.
    let messages = try makeHarness().bidi(Path.stream, pieces(Array(farms.prefix(60)), sizes: [60]), as: Carbon_Sobac_V1_CollectiveBatchMessage.self)
    #expect(messages.last?.summary.auditSample.auditAll == true)
  }

  @Test func streamRefusesAnotherProjectNameAndAnEmptyProject() throws {
    var requests = pieces(typedFarms(2), sizes: [1, 1])
    requests[1].projectName = "other"
    let renamed = error { _ = try makeHarness().bidi(Path.stream, requests, as: Carbon_Sobac_V1_CollectiveBatchMessage.self) }
    #expect(renamed?.field == "requests[1].project_name")
    let empty = error { _ = try makeHarness().bidi(Path.stream, pieces([], sizes: [0]), as: Carbon_Sobac_V1_CollectiveBatchMessage.self) }
    #expect(empty?.field == "requests")
  }

  @Test func examplesNextToThePluginPass() throws {
    let problems = try makeHarness().verifyExamples(in: repositoryRoot() + "/Plugins/SOBAC/examples")
    #expect(problems.isEmpty, "\(problems)")
  }

  @Test func listReferenceDataNamesEveryTableWithItsSource() throws {
    let response = try makeHarness().call(
      Path.list, Carbon_Sobac_V1_ListReferenceDataRequest(), as: Carbon_Sobac_V1_ListReferenceDataResponse.self)
    #expect(response.tables.map(\.name) == [
      "inputs", "amendment_compositions", "field_factors", "ift_field_crops", "ift_vegetables", "ift_vineyards",
      "ift_fruit", "audit_sample",
    ])
    for table in response.tables {
      #expect(table.source.contains("sobac-eco-tmm-method.txt"), "\(table.name)")
      #expect(!table.version.isEmpty, "\(table.name)")
    }
    let inputs = try #require(response.tables.first)
    #expect(inputs.rows.count == 32)
  }
}

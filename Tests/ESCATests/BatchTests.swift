import CarbonDomain
import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import Testing
@testable import ESCAModule

@Suite(.cpuBound) struct BatchTests {
  func farm(_ index: Int, yield: Double) -> Carbon_Esca_V1_FarmRecord {
    var record = Carbon_Esca_V1_FarmRecord()
    record.farmID = "farm-\(index)"
    record.model = Esca.calculatorModel
    record.bonus.yieldKgDryPerHaPerYr = yield
    record.bonus.efPolicy = .none
    return record
  }

  @Test func oneResultPerFarmWithErrorsInPlace() throws {
    var request = Carbon_Esca_V1_BatchRequest()
    request.farms = (0..<1000).map { farm($0, yield: $0 == 3 ? .nan : 2921) }
    let results = try Esca.harness().stream(Esca.service + "ComputeBatch", request, as: Carbon_Esca_V1_FarmResult.self)
    #expect(results.count == 1000)
    #expect(results[3].hasError)
    #expect(results[3].error.status == "INVALID_ARGUMENT")
    #expect(results[3].error.field == "farms[3].bonus.yield_kg_dry_per_ha_per_yr")
    // Every other farm: r × 3.664e6 / 2921 = 150.5479 g/kg.
    #expect(results.enumerated().allSatisfy { $0.offset == 3 || abs($0.element.escaGCo2EPerKgDry - 150.5478770284) < 1e-6 })
    #expect(results[999].farmID == "farm-999" && results[999].index == 999)
    // Terms are off by default; decisions and data sets stay.
    #expect(results[0].trace.terms.isEmpty)
    #expect(results[0].trace.dataSets.contains { $0.name == "ipcc-2019-soc-ref" })
  }

  /// Issue 20 point 1, in a batch: a farm outside a declared range (a yield of 250 t dry/ha,
  /// above any crop; esca.proto bounds it to 0–1e5 kg) fails alone, in its own result, and
  /// the farms around it are computed — in the one-request batch and in the stream
  /// (`farms` and `dossiers` are `bounds_checked_per_item`).
  @Test func aFarmOutsideADeclaredRangeFailsAloneInItsResult() throws {
    var request = Carbon_Esca_V1_BatchRequest()
    request.farms = (0..<3).map { farm($0, yield: $0 == 1 ? 250_000 : 2921) }
    let results = try Esca.harness().stream(Esca.service + "ComputeBatch", request, as: Carbon_Esca_V1_FarmResult.self)
    #expect(results.map(\.hasError) == [false, true, false])
    #expect(results[1].error.field == "farms[1].bonus.yield_kg_dry_per_ha_per_yr")
    #expect(results[1].error.message == "farms[1].bonus.yield_kg_dry_per_ha_per_yr: must be between 0 and 100000 kg dry/ha/yr, got 250000")
    #expect(abs(results[2].escaGCo2EPerKgDry - 150.5478770284) < 1e-6)
    let streamed = try Esca.harness().bidi(Esca.service + "ComputeBatchStream", [request, request], as: Carbon_Esca_V1_FarmResult.self)
    #expect(streamed.map(\.hasError) == [false, true, false, false, true, false])
    #expect(streamed[4].error.field == "requests[1].farms[1].bonus.yield_kg_dry_per_ha_per_yr")
  }

  /// "Le labour exceptionnel … implique la prise en compte du relargage de carbone associé à ce
  /// changement de pratique (voir calculateur)": the batch's bonus uses (CSA − CSR) / n with the
  /// release deducted, not the plain modelled r.
  @Test func exceptionalPloughingLowersTheBatchBonus() throws {
    var ploughed = farm(0, yield: 2921)
    ploughed.model.csrTCPerHa = 15
    ploughed.model.yearsSinceCsr = 3
    var event = Carbon_Esca_V1_ExceptionalPloughing()
    event.yearIndex = 2
    event.areaPercent = 100
    event.reason = .climaticAccident
    ploughed.model.exceptionalPloughings = [event]
    var request = Carbon_Esca_V1_BatchRequest()
    request.farms = [ploughed, farm(1, yield: 2921)]
    let results = try Esca.harness().stream(Esca.service + "ComputeBatch", request, as: Carbon_Esca_V1_FarmResult.self)
    // Release 1.0 × (19.728384 − 24 × 0.76 × 1.00 × 1.04) / 20 = 0.0379392 t C/ha;
    // CSA = 15 + 3 × 0.1200192 − 0.0379392 = 15.3221184; rate = 0.3221184 / 3 = 0.1073728;
    // × 3.664e6 / 2921 = 134.6847 g/kg (the farm without ploughing keeps 150.5479).
    #expect(abs(results[0].csaModelledTCPerHa - 15.3221184) < 1e-9)
    #expect(abs(results[0].annualRateTCPerHaPerYr - 0.1073728) < 1e-12)
    #expect(abs(results[0].escaGCo2EPerKgDry - 134.68467620677882) < 1e-9)
    #expect(abs(results[1].escaGCo2EPerKgDry - 150.5478770284153) < 1e-9)
  }

  @Test func termsOnRequest() throws {
    var request = Carbon_Esca_V1_BatchRequest()
    request.farms = [farm(0, yield: 2921)]
    request.includeTerms = true
    let results = try Esca.harness().stream(Esca.service + "ComputeBatch", request, as: Carbon_Esca_V1_FarmResult.self)
    #expect(results[0].trace.value(of: "soc_ref") == 24)
    #expect(results[0].trace.value(of: "carbon_term") != nil)
  }

  @Test func missingBonusIsReportedPerFarm() throws {
    var request = Carbon_Esca_V1_BatchRequest()
    var record = Carbon_Esca_V1_FarmRecord()
    record.farmID = "no-bonus"
    request.farms = [record]
    let results = try Esca.harness().stream(Esca.service + "ComputeBatch", request, as: Carbon_Esca_V1_FarmResult.self)
    #expect(results[0].error.field == "farms[0].bonus")
  }

  // MARK: ComputeBatchStream

  /// `farms` cut into requests of `sizes` farms each.
  func pieces(_ farms: [Carbon_Esca_V1_FarmRecord], sizes: [Int], includeTerms: Bool = false) -> [Carbon_Esca_V1_BatchRequest] {
    var rest = farms[...]
    return sizes.map { size in
      var request = Carbon_Esca_V1_BatchRequest()
      request.farms = Array(rest.prefix(size))
      rest = rest.dropFirst(size)
      request.includeTerms = includeTerms
      return request
    }
  }

  @Test func streamGivesTheSameResultsAsOneBatchWhateverTheCut() throws {
    let farms = (0..<250).map { farm($0, yield: $0 == 130 ? -1 : 2000 + Double($0)) }
    var whole = Carbon_Esca_V1_BatchRequest()
    whole.farms = farms
    let harness = try Esca.harness()
    let expected = try harness.stream(Esca.service + "ComputeBatch", whole, as: Carbon_Esca_V1_FarmResult.self)
    // One farm per request, uneven pieces with an empty one, everything in one request.
    for sizes in [Array(repeating: 1, count: 250), [7, 0, 100, 143], [250]] {
      let results = try harness.bidi(Esca.service + "ComputeBatchStream", pieces(farms, sizes: sizes), as: Carbon_Esca_V1_FarmResult.self)
      #expect(results.count == 250)
      #expect(results.map(\.index) == Array(0..<250).map(Int32.init))
      // Same figures as the one-message batch; 2000 kg/ha: r × 3.664e6 / 2000.
      #expect(zip(results, expected).allSatisfy { $0.escaGCo2EPerKgDry == $1.escaGCo2EPerKgDry && $0.farmID == $1.farmID })
      #expect(abs(results[0].escaGCo2EPerKgDry - 150.5478770284 * 2921 / 2000) < 1e-6)
      // The failing farm keeps its error in place, with its path in the request it came in.
      #expect(results[130].error.status == "INVALID_ARGUMENT")
    }
    let cut = try harness.bidi(
      Esca.service + "ComputeBatchStream", pieces(farms, sizes: [7, 0, 100, 143]), as: Carbon_Esca_V1_FarmResult.self)
    // Farm 130 is the 24th farm of the 4th request (7 + 0 + 100 = 107 before it).
    #expect(cut[130].error.field == "requests[3].farms[23].bonus.yield_kg_dry_per_ha_per_yr")
  }

  /// ComputeBatchStreamGrouped: the same results as ComputeBatchStream, N per message, a group
  /// never spanning two requests.
  @Test func groupedStreamGivesTheSameResultsInGroups() throws {
    let farms = (0..<250).map { farm($0, yield: $0 == 130 ? -1 : 2000 + Double($0)) }
    let harness = try Esca.harness()
    let single = try harness.bidi(
      Esca.service + "ComputeBatchStream", pieces(farms, sizes: [7, 0, 100, 143]), as: Carbon_Esca_V1_FarmResult.self)
    var requests = pieces(farms, sizes: [7, 0, 100, 143])
    requests[0].maxResultsPerMessage = 50
    let groups = try harness.bidi(Esca.service + "ComputeBatchStreamGrouped", requests, as: Carbon_Esca_V1_FarmResultGroup.self)
    // 7 | (empty) | 50 + 50 | 50 + 50 + 43.
    #expect(groups.map(\.results.count) == [7, 50, 50, 50, 50, 43])
    #expect(groups.flatMap(\.results) == single)
    #expect(groups.flatMap(\.results)[130].error.field == "requests[3].farms[23].bonus.yield_kg_dry_per_ha_per_yr")
    // Unset: up to 1000 per message, still cut at each request.
    requests[0].maxResultsPerMessage = 0
    let byRequest = try harness.bidi(Esca.service + "ComputeBatchStreamGrouped", requests, as: Carbon_Esca_V1_FarmResultGroup.self)
    #expect(byRequest.map(\.results.count) == [7, 100, 143])
    // A time limit of 1 ms with 1000 per message: every group is sent within its request.
    requests[0].maxMillisecondsPerMessage = 1
    let timed = try harness.bidi(Esca.service + "ComputeBatchStreamGrouped", requests, as: Carbon_Esca_V1_FarmResultGroup.self)
    #expect(timed.flatMap(\.results) == single)
    requests[0].maxResultsPerMessage = -1
    do {
      _ = try harness.bidi(Esca.service + "ComputeBatchStreamGrouped", requests, as: Carbon_Esca_V1_FarmResultGroup.self)
      Issue.record("a negative group size was accepted")
    } catch {
      #expect(error.status == .invalidArgument && error.field == "requests[0].max_results_per_message")
    }
  }

  @Test func streamReadsIncludeTermsFromTheFirstRequest() throws {
    var requests = pieces([farm(0, yield: 2921), farm(1, yield: 2921)], sizes: [1, 1], includeTerms: true)
    requests[1].includeTerms = false
    let results = try Esca.harness().bidi(Esca.service + "ComputeBatchStream", requests, as: Carbon_Esca_V1_FarmResult.self)
    #expect(results.allSatisfy { $0.trace.value(of: "soc_ref") == 24 })
  }

  @Test func streamOfNoRequestGivesNoResult() throws {
    let results = try Esca.harness().bidi(
      Esca.service + "ComputeBatchStream", [Carbon_Esca_V1_BatchRequest](), as: Carbon_Esca_V1_FarmResult.self)
    #expect(results.isEmpty)
  }

  @Test func streamStopsAtTheConfiguredMaximum() throws {
    let harness = try ModuleHarness<EscaModule>(configJSON: #"{"max_batch_farms": 3}"#)
    do {
      _ = try harness.bidi(
        Esca.service + "ComputeBatchStream", pieces((0..<4).map { farm($0, yield: 2921) }, sizes: [2, 2]),
        as: Carbon_Esca_V1_FarmResult.self)
      Issue.record("a fourth farm passed a maximum of 3")
    } catch {
      #expect(error.status == .invalidArgument)
      #expect(error.field == "requests[1].farms[1]")
    }
  }

  @Test func undecodableRequestIsNamedByItsPosition() throws {
    let harness = try Esca.harness()
    let good = try MessageCoding.encode(pieces([farm(0, yield: 2921)], sizes: [1])[0], .protobuf)
    do {
      _ = try harness.bidiBytes(Esca.service + "ComputeBatchStream", [good, [0xFF, 0xFF, 0xFF]], encoding: .protobuf)
      Issue.record("garbage bytes decoded")
    } catch {
      #expect(error.status == .invalidArgument)
      #expect(error.field == "requests[1]")
    }
  }
}

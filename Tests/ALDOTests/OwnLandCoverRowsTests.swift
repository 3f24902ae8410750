import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Foundation
import Testing

@testable import ALDOModule

/// Issue 18 point 3: rows of ALDO's own land-cover and BD Forêt files are valid input.
@Suite(.cpuBound) struct OwnLandCoverRowsTests {
  /// ALDO's clc18-change.csv holds 1 257 rows whose 2018 code equals the 2012 code (73
  /// communes of Hauts-de-France). ALDO pairs distinct land uses only (pack README §2.2 step 1),
  /// so such a row is no change and gives no flux: it is ignored, not refused.
  @Test func aRowWhose2018CodeEqualsIts2012CodeIsIgnored() throws {
    // 211→231 36 ha: 36/6 = 6 ha/yr crops → grassland, soil 0.37 × 20 × 6 = 44.4 tC → −162.8 t CO2e/yr.
    // 231→231 and 112→112 (a code shared by sealed and grassed artificial soils) add nothing.
    let request = Aldo.request([
      Aldo.part("Comines", clc: [("211", "231", 36), ("231", "231", 6), ("112", "112", 24.7)])
    ])
    let response = try Aldo.compute(request)
    #expect(abs(response.balance.netTCo2EPerYr - -162.8) < 1e-9)
    #expect(abs(Aldo.group(response, .grasslands) - -162.8) < 1e-9)
    #expect(abs(Aldo.group(response, .artificialSoils)) < 1e-12)
    let note = response.trace.rules.first { $0.rule == "aldo.clc.unchanged_rows_ignored" }
    #expect(note?.effect.hasPrefix("Comines: 2 CLC row(s)") == true, "\(String(describing: note))")
  }

  /// The unchanged row is ignored in every position, including alone.
  @Test func aPartMadeOnlyOfUnchangedRowsHasNoFlux() throws {
    let response = try Aldo.compute(Aldo.request([Aldo.part(clc: [("324", "324", 5.18)])]))
    #expect(response.entries.isEmpty)
    #expect(response.balance.netTCo2EPerYr == 0)
  }

  /// BD Forêt rows of communes without a SER group or GRECO carry "NA" (« NA,HDF » in ALDO's
  /// comments): the look-up skips the level, as ALDO's cascade does.
  @Test func naForestLocationCodesFallBack() throws {
    // Feuillu: groupeser NA, greco NA → rad13 HDF Feuillu bilan_carbone 0.84 × 100 ha = 84 tC/yr.
    // Poplar: bassin NA → France Peupleraie 0.38 × 10 ha = 3.8 tC/yr.
    // (84 + 3.8) × 44/12 = 321.9333… t CO2e/yr stored → forests −321.9333.
    let stand = Aldo.stand("NA", "NA", "HDF", "NA", broadleaf: 100, poplar: 10)
    var request = Aldo.request([Aldo.part(stands: [stand])])
    request.woodProductsMethod = .population
    let response = try Aldo.compute(request)
    #expect(abs(Aldo.group(response, .forests) - -87.8 * 44 / 12) < 1e-9)
    let references = Aldo.entries(response, nil, nil, .forestGrowth).map(\.reference)
    #expect(references.sorted() == ["IGN France/France/Peupleraie bilan_carbone", "IGN rad13/HDF/Feuillu bilan_carbone"])
    #expect(response.trace.rules.contains { $0.rule == "aldo.forest.na_location_code" })
  }

  /// A warning names its part: the part's name, else its commune, else its position.
  @Test func warningsNameThePartEvenWhenItHasNoName() throws {
    // Forest → crops with no BD Forêt row warns (density 0 as ALDO codes it).
    var part = Aldo.part("", clc: [("311", "211", 6)])
    var response = try Aldo.compute(Aldo.request([part]))
    #expect(response.trace.warnings.contains { $0.hasPrefix("part 1: deforestation") }, "\(response.trace.warnings)")
    part.communeInsee = "59350"
    response = try Aldo.compute(Aldo.request([part]))
    #expect(response.trace.warnings.contains { $0.hasPrefix("commune 59350: deforestation") }, "\(response.trace.warnings)")
    #expect(!response.trace.warnings.contains { $0.hasPrefix(":") })
  }
}

import CarbonDomain
import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import Foundation
import Testing

@testable import ALDOModule

/// Issue 18 points 1–2: a territory named by code, its forest data, and bad codes.
@Suite(.cpuBound) struct TerritoryTests {
  typealias T = TerritoryAcceptanceTests

  /// CC de la Haute-Deûle (245901061): 5 communes, all in Hauts-de-France, GRECO B only
  /// (derived-epci-greco-weights.csv « B:1.000 »); ign19.csv: broadleaf 130.3 ha, poplar 22.2 ha.
  @Test func anEpciByItsSirenUsesTheForestSubstitute() throws {
    var request = T.territory(.epci, ["245901061"])
    request.territory.perCommune = true
    let response = try Aldo.compute(request)
    #expect(response.territory.communeCount == 5)
    #expect(response.territory.population == 4194 + 975 + 5279 + 10_407 + 3413, "\(response.territory.population)")
    #expect(response.territory.forestStatus == .epciSubstitute)
    #expect(response.territoryName.hasPrefix("EPCI 245901061 CC de la Haute-Deûle"))
    // Growth: broadleaf 130.3 ha × greco B Feuillu 1.05 + poplar 22.2 ha × bassin Nord 0.98
    // = 136.815 + 21.756 = 158.571 t C/yr × 44/12 = 581.427 t CO2e/yr stored → −581.427.
    let growth = Aldo.entries(response, nil, nil, .forestGrowth).reduce(0) { $0 + $1.fluxTCo2EPerYr }
    #expect(abs(growth - -(130.3 * 1.05 + 22.2 * 0.98) * 44 / 12) < 1e-9, "\(growth)")
    #expect(Aldo.entries(response, nil, nil, .forestGrowth).allSatisfy { $0.part.contains("APPROXIMATION") })
    // Wood by harvest: BFT = removals × area; harvest = 0.9·BFT + 0.5·(VAT − BFT).
    // Broadleaf: 2.88 × 130.3 = 375.264 m³, VAT ×1.44. Poplar: 9.82 × 22.2 = 218.004 m³, VAT ×1.3.
    // HDF: 35.4311094618812 % BO, 10.6304710046248 % BI; shares of 19 253 833.33 / 10 472 666.67 m³ × 918 160.6252 / 441 532.8296 t.
    func harvest(_ bft: Double, _ vat: Double) -> Double { 0.9 * bft + 0.5 * (bft * vat - bft) }
    let total = harvest(2.88 * 130.3, 1.44) + harvest(9.82 * 22.2, 1.3)
    let wood = total * 0.354311094618812 / 19_253_833.33 * 918_160.6252 + total * 0.106304710046248 / 10_472_666.67 * 441_532.8296
    #expect(abs(Aldo.group(response, .woodProducts) - -wood) < 1e-9, "\(Aldo.group(response, .woodProducts)) vs \(-wood)")
    // The per-commune rows add up to the balance, forest growth and wood apart (EPCI-level).
    let perCommune = response.communes.reduce(0) { $0 + $1.netFluxTCo2EPerYr }
    #expect(abs(perCommune - (response.balance.netTCo2EPerYr - growth - Aldo.group(response, .woodProducts))) < 1e-6)
    #expect(Set(response.communes.map(\.communeInsee)).isSubset(of: ["59477", "59133", "59052", "59011", "59005"]))
  }

  /// « ALDO works out each commune on its own and then adds them up »: the five departments of
  /// Hauts-de-France add up to the region, forest substitute included (an EPCI across two of
  /// them enters each with its share of communes).
  @Test func departmentsAddUpToTheirRegion() throws {
    let region = try T.hautsDeFrance.get()
    var sums: [Carbon_Aldo_V1_LandUseGroup: Double] = [:]
    var communes: Int32 = 0
    for department in ["02", "59", "60", "62", "80"] {
      let response = try Aldo.compute(T.territory(.department, [department]))
      communes += response.territory.communeCount
      for row in response.balance.landUses { sums[row.group, default: 0] += row.netFluxTCo2EPerYr }
    }
    #expect(communes == region.territory.communeCount)
    for row in region.balance.landUses {
      #expect(abs((sums[row.group] ?? 0) - row.netFluxTCo2EPerYr) < 1e-6 * max(1, abs(row.netFluxTCo2EPerYr)), "\(row.group)")
    }
  }

  /// A list is the union of its codes: the region and one of its EPCIs is the region.
  @Test func aListIsTheUnionOfItsCodes() throws {
    var request = T.territory(.region, ["32"])
    var epci = Carbon_Aldo_V1_TerritoryCode()
    epci.level = .epci
    epci.code = "245901061"
    request.territory.codes.append(epci)
    let response = try Aldo.compute(request)
    #expect(response.territory.communeCount == 3798)
    #expect(abs(response.balance.netTCo2EPerYr - (try T.hautsDeFrance.get()).balance.netTCo2EPerYr) < 1e-6)
  }

  /// A single commune: its land-use changes exactly, but no commune-level forest area ships, so
  /// growth is NOT computed — said with a warning and a status, never a silent 0 (README §5.6 c).
  @Test func aCommuneAloneHasItsForestMarkedNotComputed() throws {
    let response = try Aldo.compute(T.territory(.commune, ["59477"]))
    #expect(response.territory.communeCount == 1)
    #expect(response.territoryName == "Commune 59477 Provin")
    #expect(response.territory.forestStatus == .notComputed)
    #expect(response.trace.warnings.contains { $0.hasPrefix("FOREST NOT COMPUTED for 1 commune(s) named alone (59477") })
    #expect(Aldo.entries(response, nil, nil, .forestGrowth).isEmpty)
  }

  /// forest_data NONE on a territory with forest: status NOT_COMPUTED and a warning with the area.
  @Test func forestDataNoneIsNeverASilentZero() throws {
    let response = try Aldo.compute(T.territory(.epci, ["245901061"], forest: .none))
    #expect(response.territory.forestStatus == .notComputed)
    // ign19.csv: 130.3 + 22.2 = 152.5 ha, written rounded: 153.
    #expect(response.trace.warnings.contains { $0.hasPrefix("FOREST NOT COMPUTED (forest_data NONE): the territory holds about 153 ha") }, "\(response.trace.warnings)")
    #expect(Aldo.group(response, .woodProducts) == 0)
    // BD_FORET asked with no BD Forêt row for the territory: the same, said so.
    let bdForet = try Aldo.compute(T.territory(.epci, ["245901061"], forest: .bdForet))
    #expect(bdForet.territory.forestStatus == .notComputed)
    #expect(bdForet.trace.warnings.contains { $0.hasPrefix("FOREST NOT COMPUTED: forest_data BD_FORET was asked") })
  }

  /// User BD Forêt rows run ALDO's exact per-commune method (worked example (b)'s first row:
  /// B5 / B / HDF / Nord, broadleaf 300 ha → groupeser B5 Feuillu 1.12 t C/ha/yr = 336 t C/yr).
  @Test func userBdForetRowsRunTheExactMethod() throws {
    var request = T.territory(.commune, ["59477"])
    var row = Carbon_Aldo_V1_CommuneForestStand()
    row.communeInsee = "59477"
    row.stand = Aldo.stand("B5", "B", "HDF", "Nord", broadleaf: 300)
    request.territory.forestStands = [row]
    let response = try Aldo.compute(request)
    #expect(response.territory.forestStatus == .bdForet)
    let growth = Aldo.entries(response, nil, nil, .forestGrowth)
    #expect(growth.count == 1)
    #expect(abs((growth.first?.fluxTCo2EPerYr ?? 0) - -1232) < 1e-9)
    #expect(growth.first?.reference == "IGN groupeser/B5/Feuillu bilan_carbone")
  }

  /// The shipped files are named in the trace with their version and checked sha256.
  @Test func shippedFilesAreNamedWithVersionAndSha256() throws {
    let response = try Aldo.compute(T.territory(.commune, ["59477"]))
    let clc = response.trace.dataSets.first { $0.name == "aldo-clc18-change" }
    #expect(clc?.source.contains("sha256 eacb31b24cf0631e990a95c024e641ad3023b9043d8759155a4eff69325cf3f7, checked") == true)
    #expect(clc?.version.contains("CORINE Land Cover 2012→2018") == true)
    #expect(response.trace.dataSets.contains { $0.name == "aldo-ign19" })
  }

  /// Bad codes get INVALID_ARGUMENT naming the field and saying what is wrong.
  @Test func badCodesNameTheirField() throws {
    let cases: [(Carbon_Aldo_V1_ComputeFluxRequest, String, String)] = [
      (T.territory(.commune, ["99999"]), "territory.codes[0].code", "unknown commune"),
      (T.territory(.epci, ["32"]), "territory.codes[0].code", "is the code of a department and a region"),
      (T.territory(.region, ["59350"]), "territory.codes[0].code", "is the code of a commune"),
      (T.territory(.region, ["59"]), "territory.codes[0].code", "is the code of a department"),
      (T.territory(.epci, ["243800455"]), "territory.codes[0].code", "merged into 200077014"),
      (T.territory(.epci, ["999999999"]), "territory.codes[0].code", "no commune"),
      (T.territory(.department, ["99"]), "territory.codes[0].code", "unknown department"),
      (T.territory(.unspecified, ["32"]), "territory.codes[0].level", "must be"),
      (T.territory(.commune, ["75101"]), "territory.codes[0].code", "arrondissement"),
      (T.territory(.commune, []), "territory.codes", ""),
    ]
    let harness = try Aldo.harness()
    for (request, field, words) in cases {
      do {
        _ = try harness.call(Aldo.flux, request, as: Carbon_Aldo_V1_ComputeFluxResponse.self)
        Issue.record("accepted \(request.territory.codes)")
      } catch {
        #expect(error.status == .invalidArgument)
        #expect(error.field == field, "\(error.message)")
        #expect(words.isEmpty || error.message.contains(words), "\(field): \(error.message)")
      }
    }
    var both = T.territory(.commune, ["59477"])
    both.parts = [Aldo.part()]
    try Aldo.expectError(Aldo.flux, both, status: .invalidArgument, field: "parts")
    var outside = T.territory(.commune, ["59477"])
    var row = Carbon_Aldo_V1_CommuneForestStand()
    row.communeInsee = "59350"
    row.stand = Aldo.stand("B5", "B", "HDF", "Nord", broadleaf: 1)
    outside.territory.forestStands = [row]
    try Aldo.expectError(Aldo.flux, outside, status: .invalidArgument, field: "territory.forest_stands[0].commune_insee")
    row.communeInsee = "59477"
    row.stand.rad13 = "XXX"
    outside.territory.forestStands = [row]
    try Aldo.expectError(Aldo.flux, outside, status: .invalidArgument, field: "territory.forest_stands[0].stand.rad13")
  }

  /// reference_dir with ALDO's surface-foret.csv (BD Forêt by commune; INSEE without its
  /// leading zero, "NA" codes): the exact per-commune method runs. Row: 01004, broadleaf 100 ha,
  /// groupeser NA, greco NA, rad13 ARA → rad13 ARA Feuillu bilan_carbone. The file is ALDO's
  /// whole file, so 01007, absent from it, has no forest: NO_FOREST whatever forest_data (BD_FORET
  /// by default, as the file gives the BD Forêt data), never NOT_COMPUTED, and no growth.
  @Test func referenceDirBdForetFileRunsTheExactMethod() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("aldo-bdforet-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    try "insee,zpc\n01004,2_1\n01007,2_1\n".write(to: directory.appendingPathComponent("zpc.csv"), atomically: true, encoding: .utf8)
    try "nom,insee,population,departement,region,epci\nAmbérieu-en-Bugey,01004,14127,01,84,240100883\nAmbronay,01007,2722,01,84,240100883\n"
      .write(to: directory.appendingPathComponent("communes_17122018.csv"), atomically: true, encoding: .utf8)
    try "code12,code18,commune,area\n211,231,01004,36\n211,231,01007,36\n"
      .write(to: directory.appendingPathComponent("clc18-change.csv"), atomically: true, encoding: .utf8)
    try ("INSEE_COM,CODE_EPCI,SUR_FEUILLUS,SUR_RESINEUX,SUR_MIXTES,SUR_PEUPLERAIES,code_groupeser,code_greco,code_rad13,"
      + "code_bassin_populicole\n1004,240100883,100,0,0,0,NA,NA,ARA,NA\n")
      .write(to: directory.appendingPathComponent("surface-foret.csv"), atomically: true, encoding: .utf8)
    let harness = try ModuleHarness<AldoModule>(configJSON: #"{"reference_dir": "\#(directory.path)"}"#)
    var request = T.territory(.commune, ["01004"])
    request.woodProductsMethod = .population
    let response = try harness.call(Aldo.flux, request, as: Carbon_Aldo_V1_ComputeFluxResponse.self)
    #expect(response.territory.forestStatus == .bdForet)
    let growth = Aldo.entries(response, nil, nil, .forestGrowth)
    #expect(growth.map(\.reference) == ["IGN rad13/ARA/Feuillu bilan_carbone"])
    // Soil: 36 ha / 6 = 6 ha/yr crops → grassland in 2_1: 0.37 × 20 × 6 = 44.4 t C → −162.8.
    #expect(abs(Aldo.group(response, .grasslands) - -162.8) < 1e-9)
    #expect(response.trace.dataSets.contains { $0.name == "aldo-surface-foret" })
    for forestData in [Carbon_Aldo_V1_ForestData.unspecified, .bdForet, .none] {
      let absent = try harness.call(Aldo.flux, T.territory(.commune, ["01007"], forest: forestData), as: Carbon_Aldo_V1_ComputeFluxResponse.self)
      #expect(absent.territory.forestStatus == .noForest, "\(forestData): \(absent.territory.forestStatus)")
      #expect(!absent.trace.warnings.contains { $0.hasPrefix("FOREST NOT COMPUTED") }, "\(absent.trace.warnings)")
      #expect(Aldo.entries(absent, nil, nil, .forestGrowth).isEmpty)
      #expect(abs(Aldo.group(absent, .grasslands) - -162.8) < 1e-9, "its land-use change is still computed")
      if forestData != .none {
        #expect(absent.territory.forestMethod == "no forest: the territory has no row in reference_dir surface-foret.csv (ALDO's whole BD Forêt file)")
      }
    }
  }

  /// A reference_dir surface-foret.csv stands for ALDO's whole file, where a commune without a
  /// row has no forest (pack §2.6: « If the commune has no rows, the density is 0 »). But the
  /// whole file cannot lack every commune of an EPCI that ign19.csv (BD Forêt 2019 by EPCI) says
  /// holds forest: such a file is partial there, and the forest is unknown, never a silent 0.
  @Test func aReferenceFileWithoutAForestedEpcisCommunesIsNotTakenAsNoForest() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("aldo-partial-file-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    func write(_ name: String, _ text: String) throws {
      try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
    try write("zpc.csv", "insee,zpc\n01004,2_1\n01007,2_1\n")
    try write(
      "communes_17122018.csv",
      "nom,insee,population,departement,region,epci\nAmbérieu-en-Bugey,01004,14127,01,84,240100883\nAmbronay,01007,2722,01,84,240100883\n")
    try write("clc18-change.csv", "code12,code18,commune,area\n211,231,01004,36\n211,231,01007,36\n")
    // The file's only row is another EPCI's commune.
    try write(
      "surface-foret.csv",
      "INSEE_COM,CODE_EPCI,SUR_FEUILLUS,SUR_RESINEUX,SUR_MIXTES,SUR_PEUPLERAIES,code_groupeser,code_greco,code_rad13,"
        + "code_bassin_populicole\n1999,240100999,100,0,0,0,NA,NA,ARA,NA\n")
    try write(
      "ign19.csv",
      "siren,feuillus,coniferes,mixtes,peupleraies,total,jeune_peup,tx_boisement\n240100883,25857.2,2038.2,1142.7,84.1,29226.5,104.3,0.41\n")
    try write(
      "derived-epci-greco-weights.csv",
      "siren,dominant_greco,greco_weights,w_feuillu,w_conifere,w_mixte,fit_residual_max\n"
        + "240100883,E,E:0.776|C:0.224,E:0.760|C:0.240,E:0.922|C:0.078,E:0.880|C:0.120,2.67e-09\n")
    let harness = try ModuleHarness<AldoModule>(configJSON: #"{"reference_dir": "\#(directory.path)"}"#)
    func run(_ forest: Carbon_Aldo_V1_ForestData) throws -> Carbon_Aldo_V1_ComputeFluxResponse {
      try harness.call(Aldo.flux, T.territory(.epci, ["240100883"], forest: forest), as: Carbon_Aldo_V1_ComputeFluxResponse.self)
    }
    // By default the EPCI substitute gives the forest, with a warning on the file.
    let byDefault = try run(.unspecified)
    #expect(byDefault.territory.forestStatus == .epciSubstitute, "\(byDefault.territory.forestStatus)")
    #expect(byDefault.trace.warnings.contains { $0.contains("is not ALDO's whole BD Forêt file there") }, "\(byDefault.trace.warnings)")
    #expect(!Aldo.entries(byDefault, nil, nil, .forestGrowth).isEmpty)
    // Asked for BD Forêt or for none, it is not computed, never "no forest".
    for forest in [Carbon_Aldo_V1_ForestData.bdForet, .none] {
      let response = try run(forest)
      #expect(response.territory.forestStatus == .notComputed, "\(forest): \(response.territory.forestStatus)")
      #expect(response.trace.warnings.contains { $0.hasPrefix("FOREST NOT COMPUTED") }, "\(forest): \(response.trace.warnings)")
    }
  }

  /// Paris is computed whole from its arrondissements' CLC rows (clc18-change.csv has 75101, 75107…).
  @Test func parisGetsItsArrondissementsRows() throws {
    let response = try Aldo.compute(T.territory(.commune, ["75056"]))
    #expect(!response.annualAreas.isEmpty)
  }
}

import CarbonDomain
import CarbonPluginKit

/// The parts of a territory named by code: one per commune (ALDO's per-commune method), plus,
/// with the EPCI forest substitute, one forest part per EPCI.
struct TerritoryParts {
  var communeParts: [ResolvedPart]
  var forestParts: [ResolvedPart]
  /// Part name → (INSEE code, name, EPCI) of the commune parts.
  var communeOfPart: [String: (insee: String, name: String, epci: String)]
  var info: Carbon_Aldo_V1_TerritoryInfo
}

extension AldoModule {
  /// Commune data for territory requests: `reference_dir` when configured, else the files shipped
  /// beside the plugin (sha256-checked once per process).
  func territoryReference() throws(ModuleError) -> CommuneReference {
    if let communes { return communes }
    return try CommuneReference.shippedFiles.get()
  }

  /// Resolves a territory's communes and builds their parts, with the forest data the request
  /// chose; records every decision in the trace.
  func territoryParts(
    _ selection: Carbon_Aldo_V1_TerritorySelection, field: String, input: inout TerritoryInput, trace: inout TraceBuilder
  ) throws(ModuleError) -> TerritoryParts {
    let reference = try territoryReference()
    let territory = try TerritoryResolver(reference: reference, data: input.data).resolve(selection, field: field)
    if reference.shipped {
      for file in reference.files {
        var set = DataSetVersion()
        set.name = file.name
        set.version = file.version
        set.source = "\(file.file) (sha256 \(file.sha256), checked): \(file.source)"
        trace.dataSet(set)
      }
    }
    let inside = Set(territory.communes)
    var userStands: [String: [Stand]] = [:]
    input.trace = trace
    for (index, row) in selection.forestStands.enumerated() {
      let path = "\(field).forest_stands[\(index)]"
      guard inside.contains(row.communeInsee) else {
        throw .invalidArgument("\(path).commune_insee", "commune \(row.communeInsee.quoted) is not in the territory")
      }
      userStands[row.communeInsee, default: []].append(try input.validate(row.stand, "\(path).stand"))
    }
    trace = input.trace
    let fileStands = reference.forestStands ?? [:]
    let bdForet = userStands.isEmpty ? fileStands.filter { inside.contains($0.key) } : userStands
    if userStands.isEmpty {
      let fallbacks = bdForet.keys.sorted().filter { insee in
        bdForet[insee]?.contains { data.reading($0.groupeser, level: "groupeser") == .serGroupWithoutRow } == true
      }
      if !fallbacks.isEmpty {
        // Written to input's trace: `trace` is taken back from it once the communes are built.
        input.trace.rule(
          "aldo.forest.ser_group_not_in_ign_table",
          AldoReferenceData.serGroupFallbackNote(
            "surface-foret.csv rows of \(fallbacks.count) commune(s) (\(fallbacks.prefix(20).joined(separator: ", "))\(fallbacks.count > 20 ? ", …" : ""))"))
      }
    }

    var communeParts: [ResolvedPart] = []
    var communeOfPart: [String: (insee: String, name: String, epci: String)] = [:]
    var population = 0.0
    input.summarisePerPart = true
    for insee in territory.communes {
      guard let commune = reference.communes[insee] else { continue }
      let name = "\(insee) \(commune.name)"
      guard let zone = reference.zoneOfCommune[insee], data.soilFlux[zone] != nil else {
        trace.warning("commune \(name): no pedoclimatic zone in zpc.csv, so its land-use changes are left out")
        continue
      }
      guard let interRegion = data.interRegionOfRegion[commune.region] else {
        trace.warning("commune \(name): region \(commune.region) has no biomass inter-region, so it is left out")
        continue
      }
      let areas = try input.clcAreas(
        reference.changes[insee] ?? [], path: "\(field) commune \(insee) clc18-change.csv", partName: "commune \(name)")
      communeParts.append(
        ResolvedPart(
          name: name, zone: zone, regionCode: commune.region, interRegion: interRegion, areas: areas,
          stands: bdForet[insee] ?? [], population: commune.population))
      communeOfPart[name] = (insee, commune.name, commune.epci)
      population += commune.population
    }
    input.summarisePerPart = false
    input.flushSummaries()
    trace = input.trace

    var info = Carbon_Aldo_V1_TerritoryInfo()
    info.label = territory.label
    info.codes = selection.codes
    info.communeCount = Int32(communeParts.count)
    info.epciCount = Int32(Set(communeParts.compactMap { communeOfPart[$0.name]?.epci }.filter { !$0.isEmpty }).count)
    info.population = population
    trace.term("territory_communes", Double(communeParts.count), .count, formula: "communes of \(territory.label) (communes_17122018.csv)")

    let substitute = reference.epciForest.flatMap { areas in
      reference.grecoWeights.map { EpciForestSubstitute(data: data, areas: areas, weights: $0) }
    }
    // Forest area the territory holds by ign19.csv (communes' share of their EPCI), to tell
    // "no forest" from "forest not computed".
    let shares = Self.epciShares(communeParts, communeOfPart: communeOfPart, reference: reference, excluded: territory.communesNamedAlone)
    let knownForest = substitute.map { s in shares.reduce(0) { $0 + s.totalArea($1.epci) * $1.share } }
    let aloneWithForest = territory.communesNamedAlone.sorted().filter { insee in
      guard let epci = reference.communes[insee]?.epci, let substitute else { return false }
      return substitute.totalArea(epci) > 0
    }
    // `knownForest` leaves out communes named alone (their share of the EPCI would be a guess),
    // so warnings name them with their EPCI's whole forest: a forest the territory has, never "none".
    let aloneForestNote =
      aloneWithForest.prefix(20).map { insee -> String in
        let commune = reference.communes[insee]
        let area = commune.map { substitute?.totalArea($0.epci) ?? 0 } ?? 0
        return "\(insee) \(commune?.name ?? ""), whose EPCI \(commune?.epci ?? "") holds \(Int(area.rounded())) ha of forest (ign19.csv)"
      }.joined(separator: "; ") + (aloneWithForest.count > 20 ? "; …" : "")

    // A reference_dir surface-foret.csv is ALDO's whole file: a commune absent from it has no BD
    // Forêt forest, whatever its EPCI holds, so with it "no row" means "no forest", not "unknown".
    let wholeFile = userStands.isEmpty && reference.forestStands != nil
    // But ALDO's whole file cannot lack every commune of an EPCI that ign19.csv says holds
    // forest: a file that does is partial there, and the forest is unknown, not absent.
    let forestedEpcisWithoutRows =
      wholeFile && bdForet.isEmpty
      ? shares.filter { $0.inside == $0.total && (substitute?.totalArea($0.epci) ?? 0) > 0 }.map(\.epci) : []
    let fileLacksForest = !forestedEpcisWithoutRows.isEmpty
    let territoryHasForest =
      wholeFile && !fileLacksForest ? !bdForet.isEmpty : (knownForest ?? 1) > 0 || !aloneWithForest.isEmpty
    if fileLacksForest {
      trace.warning(
        "reference_dir surface-foret.csv has no row for any commune of EPCI \(forestedEpcisWithoutRows.prefix(10).joined(separator: ", "))"
          + "\(forestedEpcisWithoutRows.count > 10 ? ", …" : ""), which ign19.csv says hold"
          + " about \(Int((knownForest ?? 0).rounded())) ha of forest: the file is not ALDO's whole BD Forêt file there, so the forest"
          + " is taken as unknown (EPCI substitute by default), not absent")
    }
    let choice: Carbon_Aldo_V1_ForestData =
      selection.forestData == .unspecified
      ? (bdForet.isEmpty && (!wholeFile || fileLacksForest) ? .epciSubstitute : .bdForet) : selection.forestData
    guard [.epciSubstitute, .bdForet, .none].contains(choice) else {
      throw .invalidArgument("\(field).forest_data", "has an unknown value \(selection.forestData.rawValue)")
    }
    if choice != .bdForet && !bdForet.isEmpty {
      // The communes' growth and wood products by harvest would add to the EPCI substitute's
      // (counted twice) or to a forest_data NONE that promises none: the rows leave `stands`.
      // Their deforestation density is the commune's own forest (pack §2.6), which neither choice
      // replaces, so they keep giving it: without them the density falls to ALDO's 0 (§3.4).
      let choiceName = choice == .none ? "NONE" : "EPCI_SUBSTITUTE"
      for index in communeParts.indices where !communeParts[index].stands.isEmpty {
        communeParts[index].densityStands = communeParts[index].stands
        communeParts[index].densityLabel = "the commune's BD Forêt rows (forest_data \(choiceName): density only)"
        communeParts[index].stands = []
      }
      trace.warning(
        "BD Forêt rows of \(bdForet.count) commune(s) (\(userStands.isEmpty ? "reference_dir surface-foret.csv" : "territory.forest_stands")): "
          + "their growth and wood products by harvest are left out, since forest_data \(choiceName) was asked and they would count "
          + "the forest twice or against that choice; they still give their communes' deforestation density. Omit forest_data "
          + "(or ask BD_FORET) to use them whole")
    }
    /// Gives communes without BD Forêt rows the deforestation density of their EPCI's GRECO mix
    /// (README §5.6 a step 4) instead of ALDO's density 0 (§3.4).
    func giveSubstituteDensity(_ substitute: EpciForestSubstitute, to indices: [Int]) {
      for index in indices {
        guard let epci = communeOfPart[communeParts[index].name]?.epci, !epci.isEmpty else { continue }
        communeParts[index].densityStands = substitute.stands(
          epci: epci, region: communeParts[index].regionCode, share: 1, unitAreas: true)
        communeParts[index].densityLabel = "APPROXIMATION: EPCI \(epci) GRECO mix \(substitute.mixLabel(epci))"
      }
    }
    var forestParts: [ResolvedPart] = []
    switch choice {
    case .bdForet:
      // Rows given by the request for part of the territory say nothing of the other communes'
      // forest: those are not computed (PARTIAL, named in a warning), never a silent 0. A
      // territory absent from ALDO's whole file (`wholeFile`) has no BD Forêt forest.
      let uncovered = userStands.isEmpty ? [] : communeParts.indices.filter { communeParts[$0].stands.isEmpty }
      let uncoveredForest = substitute.map { s in
        Self.epciShares(uncovered.map { communeParts[$0] }, communeOfPart: communeOfPart, reference: reference, excluded: [])
          .reduce(0) { $0 + s.totalArea($1.epci) * $1.share }
      }
      info.forestMethod = "BD Forêt rows by commune (\(userStands.isEmpty ? "reference_dir surface-foret.csv" : "request")): ALDO's exact method"
      if bdForet.isEmpty && !territoryHasForest {
        info.forestStatus = .noForest
        info.forestMethod =
          wholeFile
          ? "no forest: the territory has no row in reference_dir surface-foret.csv (ALDO's whole BD Forêt file)"
          : "no forest: no BD Forêt row, and the territory's EPCIs hold no forest (ign19.csv)"
      } else if bdForet.isEmpty {
        info.forestStatus = .notComputed
        info.forestMethod =
          "not computed: forest_data BD_FORET was asked but no BD Forêt row covers the territory (none in "
          + (fileLacksForest ? "territory.forest_stands, none in reference_dir surface-foret.csv)" : "territory.forest_stands, no reference_dir surface-foret.csv)")
        trace.warning(
          "FOREST NOT COMPUTED: forest_data BD_FORET was asked but no BD Forêt row covers the territory, "
            + (knownForest == nil
              ? "whose forest area is unknown (no ign19.csv)"
              : "whose EPCIs hold forest (ign19.csv)" + (aloneWithForest.isEmpty ? "" : ": \(aloneForestNote)"))
            + "; growth and wood products by harvest are missing from the balance")
      } else if !uncovered.isEmpty && (uncoveredForest ?? 1) > 0 {
        info.forestStatus = .partial
        let names = uncovered.map { communeParts[$0].name }
        let area = uncoveredForest.map { "about \(Int($0.rounded())) ha of forest (their EPCIs' ign19.csv area × share of communes)" }
          ?? "forest of unknown area (no ign19.csv)"
        info.forestMethod += "; \(uncovered.count) commune(s) without rows not computed"
        trace.warning(
          "FOREST PARTIAL: the request's BD Forêt rows cover \(communeParts.count - uncovered.count) of \(communeParts.count) communes; "
            + "the \(uncovered.count) others (\(names.prefix(20).joined(separator: ", "))\(names.count > 20 ? ", …" : "")) hold \(area), "
            + "whose growth and wood products by harvest are missing from the balance; give their rows in forest_stands, or none "
            + "at all for the EPCI substitute"
            + (substitute == nil ? "" : ". Their deforestation uses their EPCI's GRECO-mix density (APPROXIMATION), not 0"))
        if let substitute { giveSubstituteDensity(substitute, to: uncovered) }
      } else {
        info.forestStatus = .bdForet
      }
    case .none:
      info.forestStatus = territoryHasForest ? .notComputed : .noForest
      info.forestMethod = "not computed (forest_data NONE)"
      if info.forestStatus == .notComputed {
        var area =
          wholeFile && !fileLacksForest
          ? "forest (its BD Forêt rows in reference_dir surface-foret.csv)"
          : knownForest.map { "about \(Int($0.rounded())) ha of forest (ign19.csv)" } ?? "forest of unknown area (no ign19.csv)"
        if !wholeFile && knownForest != nil && !aloneWithForest.isEmpty {
          area =
            (knownForest ?? 0) > 0
            ? "\(area), plus the forest of communes named alone: \(aloneForestNote)"
            : "forest in the communes named alone: \(aloneForestNote)"
        }
        trace.warning(
          "FOREST NOT COMPUTED (forest_data NONE): the territory holds \(area); standing-forest growth and wood products "
            + "by harvest are missing from the balance")
      }
    default:
      guard let substitute else {
        info.forestStatus = .notComputed
        info.forestMethod = "not computed: the EPCI forest files are missing"
        trace.warning(
          "FOREST NOT COMPUTED: reference_dir holds neither ign19.csv nor derived-epci-greco-weights.csv, so the EPCI "
            + "forest substitute cannot run; growth and wood products by harvest are missing from the balance")
        break
      }
      info.forestMethod = EpciForestSubstitute.method
      for share in shares {
        let area = substitute.totalArea(share.epci)
        var entry = Carbon_Aldo_V1_EpciForestShare()
        entry.siren = share.epci
        entry.communesInside = Int32(share.inside)
        entry.communesTotal = Int32(share.total)
        entry.shareFraction = share.share
        entry.forestAreaHa = area
        info.epcis.append(entry)
        guard area > 0, share.share > 0, let interRegion = data.interRegionOfRegion[share.region] else { continue }
        forestParts.append(
          ResolvedPart(
            name: "EPCI \(share.epci) forest (APPROXIMATION, \(share.inside)/\(share.total) communes)", zone: "",
            regionCode: share.region, interRegion: interRegion, areas: [:],
            stands: substitute.stands(epci: share.epci, region: share.region, share: share.share), population: 0))
      }
      for share in shares {
        guard let predecessors = data.epciPredecessors[share.epci] else { continue }
        trace.decision(
          "epci_2018_merger", "\(share.epci) = \(predecessors.joined(separator: " + "))",
          reason: "absent from ign19.csv and derived-epci-greco-weights.csv: areas = Σ the predecessors' areas, GRECO weights "
            + "= each predecessor's own weights mixed by its area of the subtype (broadleaf \(substitute.mixLabel(share.epci))), "
            + "as the pack's check does (reference pack README §5.6 a steps 1–2)")
      }
      giveSubstituteDensity(
        substitute, to: communeParts.indices.filter { communeParts[$0].stands.isEmpty && communeParts[$0].densityStands.isEmpty })
      if !aloneWithForest.isEmpty {
        info.forestStatus = forestParts.isEmpty ? .notComputed : .partial
        // Communes whose rows were given only lack forest_data BD_FORET to use them.
        let withRows = aloneWithForest.filter { bdForet[$0] != nil }
        let advice =
          withRows.isEmpty
          ? "give their BD Forêt rows in forest_stands"
          : "their BD Forêt rows were given (\(withRows.prefix(20).joined(separator: ", "))\(withRows.count > 20 ? ", …" : "")) "
            + "but forest_data EPCI_SUBSTITUTE leaves them out: ask forest_data BD_FORET (or omit it) to use them"
            + (withRows.count == aloneWithForest.count ? "" : ", and give the others' rows in forest_stands")
        trace.warning(
          "FOREST NOT COMPUTED for \(aloneWithForest.count) commune(s) named alone (\(aloneForestNote)): "
            + "no commune-level BD Forêt area ships, and a share of the EPCI's "
            + "forest would be a guess (reference pack README §5.6 c); \(advice)")
      } else {
        info.forestStatus = forestParts.isEmpty ? .noForest : .epciSubstitute
      }
      if !forestParts.isEmpty {
        trace.warning(
          "Standing-forest growth and wood products by harvest are an APPROXIMATION: \(EpciForestSubstitute.method). "
            + "Expect about −8 % on growth and +9 % on wood products for Hauts-de-France (README of the module)")
      }
    }
    trace.decision("forest_data", "\(info.forestStatus)", reason: info.forestMethod)
    if let knownForest { trace.term("territory_forest_area_ign19", knownForest, .ha, formula: "Σ EPCI ign19.csv area × share of communes inside") }
    return TerritoryParts(communeParts: communeParts, forestParts: forestParts, communeOfPart: communeOfPart, info: info)
  }

  /// Each EPCI touched by the territory: communes inside (not counting those named alone),
  /// communes in all, share, and the region most of its inside communes are in.
  static func epciShares(
    _ parts: [ResolvedPart], communeOfPart: [String: (insee: String, name: String, epci: String)],
    reference: CommuneReference, excluded: Set<String>
  ) -> [(epci: String, inside: Int, total: Int, share: Double, region: String)] {
    var inside: [String: Int] = [:]
    var regions: [String: [String: Int]] = [:]
    for part in parts {
      guard let commune = communeOfPart[part.name], !commune.epci.isEmpty, !excluded.contains(commune.insee) else { continue }
      inside[commune.epci, default: 0] += 1
      regions[commune.epci, default: [:]][part.regionCode, default: 0] += 1
    }
    return inside.keys.sorted().map { epci in
      let total = reference.communesOfEpci[epci]?.count ?? 0
      let count = inside[epci] ?? 0
      let region = regions[epci]?.max { $0.value == $1.value ? $0.key > $1.key : $0.value < $1.value }?.key ?? ""
      return (epci, count, total, total > 0 ? Double(count) / Double(total) : 0, region)
    }
  }

  /// The entries of a territory's communes summed by pair, pool and group (a region has tens
  /// of thousands), the EPCI forest entries kept as they are.
  static func territoryEntries(_ items: [FluxItem], communeParts: Set<String>, label: String) -> [FluxItem] {
    struct Key: Hashable {
      var from: Leaf?
      var to: Leaf?
      var group: Carbon_Aldo_V1_LandUseGroup
      var pool: Carbon_Aldo_V1_Pool
    }
    var order: [Key] = []
    var sums: [Key: (item: FluxItem, communes: Set<String>)] = [:]
    var kept: [FluxItem] = []
    for item in items {
      guard communeParts.contains(item.part) else {
        kept.append(item)
        continue
      }
      let key = Key(from: item.from, to: item.to, group: item.group, pool: item.pool)
      if var sum = sums[key] {
        sum.item.area += item.area
        sum.item.stockChangeTC += item.stockChangeTC
        sum.item.storedCo2e += item.storedCo2e
        sum.item.n2oEmitted += item.n2oEmitted
        sum.communes.insert(item.part)
        sums[key] = sum
      } else {
        order.append(key)
        var first = item
        first.part = label
        sums[key] = (first, [item.part])
      }
    }
    let summed = order.compactMap { key -> FluxItem? in
      guard var (item, communes) = sums[key] else { return nil }
      // The unit and years of a sum: unit = tC / (area × years) keeps tC = unit × years × area.
      item.unit = item.area > 0 && item.years != 0 ? item.stockChangeTC / (item.area * item.years) : 0
      item.reference = communes.count == 1 ? item.reference : "Σ over \(communes.count) communes (each with its own zone and rows)"
      return item
    }
    return summed + kept
  }

  /// Per commune and group, the net flux (observatory sign).
  static func communeFluxes(
    _ items: [FluxItem], communeOfPart: [String: (insee: String, name: String, epci: String)]
  ) -> [Carbon_Aldo_V1_CommuneFlux] {
    var sums: [String: [Carbon_Aldo_V1_LandUseGroup: Double]] = [:]
    for item in items where communeOfPart[item.part] != nil {
      sums[item.part, default: [:]][item.group, default: 0] += item.storedCo2e
    }
    return sums.keys.sorted().flatMap { part -> [Carbon_Aldo_V1_CommuneFlux] in
      let commune = communeOfPart[part]!
      return Carbon_Aldo_V1_LandUseGroup.balanceOrder.compactMap { group in
        guard let stored = sums[part]?[group], stored != 0 else { return nil }
        var row = Carbon_Aldo_V1_CommuneFlux()
        row.communeInsee = commune.insee
        row.name = commune.name
        row.epciSiren = commune.epci
        row.group = group
        row.netFluxTCo2EPerYr = ObservatorySign.flux(fromStored: stored)
        return row
      }
    }
  }
}

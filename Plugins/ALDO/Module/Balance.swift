/// The seed's breakdown: net flux per land-use group, sequestered and emitted totals, net
/// balance and each group's share (METHODS.md §3 "Output, as the seed").
enum BalanceBuilder {
  /// The balance of computed entries: each entry counts under its group (its final land use).
  static func balance(of items: [FluxItem]) -> Carbon_Aldo_V1_FluxBalance {
    var rows: [Carbon_Aldo_V1_LandUseGroup: Carbon_Aldo_V1_LandUseFlux] = [:]
    var pools: [Carbon_Aldo_V1_LandUseGroup: [Carbon_Aldo_V1_Pool: Double]] = [:]
    var leaves: [Carbon_Aldo_V1_LandUseGroup: [Leaf: Double]] = [:]
    for item in items {
      let flux = ObservatorySign.flux(fromStored: item.storedCo2e)
      var row = rows[item.group] ?? Carbon_Aldo_V1_LandUseFlux()
      row.netFluxTCo2EPerYr += flux
      row.stockChangeTCPerYr += item.stockChangeTC
      rows[item.group] = row
      pools[item.group, default: [:]][item.pool, default: 0] += flux
      if let leaf = item.to { leaves[item.group, default: [:]][leaf, default: 0] += flux }
    }
    for (group, var row) in rows {
      row.pools = (pools[group] ?? [:]).sorted(by: { $0.key.rawValue < $1.key.rawValue }).map { pool, value in
        var entry = Carbon_Aldo_V1_PoolFlux()
        entry.pool = pool
        entry.fluxTCo2EPerYr = value
        return entry
      }
      row.leaves = (leaves[group] ?? [:]).sorted(by: { $0.key < $1.key }).map { leaf, value in
        var entry = Carbon_Aldo_V1_LeafLandUseFlux()
        entry.landUse = leaf.landUse
        entry.netFluxTCo2EPerYr = value
        return entry
      }
      rows[group] = row
    }
    return finish(rows)
  }

  /// The balance of per-group net fluxes given by the caller.
  static func balance(of inputs: [(group: Carbon_Aldo_V1_LandUseGroup, net: Double)]) -> Carbon_Aldo_V1_FluxBalance {
    var rows: [Carbon_Aldo_V1_LandUseGroup: Carbon_Aldo_V1_LandUseFlux] = [:]
    for input in inputs {
      var row = rows[input.group] ?? Carbon_Aldo_V1_LandUseFlux()
      row.netFluxTCo2EPerYr += input.net
      rows[input.group] = row
    }
    return finish(rows)
  }

  /// Totals and shares; every group appears, in the seed's order.
  private static func finish(_ rows: [Carbon_Aldo_V1_LandUseGroup: Carbon_Aldo_V1_LandUseFlux]) -> Carbon_Aldo_V1_FluxBalance {
    var balance = Carbon_Aldo_V1_FluxBalance()
    let nets = Carbon_Aldo_V1_LandUseGroup.balanceOrder.map { rows[$0]?.netFluxTCo2EPerYr ?? 0 }
    balance.sequesteredTCo2EPerYr = nets.filter { $0 < 0 }.reduce(0, +)
    balance.emittedTCo2EPerYr = nets.filter { $0 > 0 }.reduce(0, +)
    balance.netTCo2EPerYr = balance.sequesteredTCo2EPerYr + balance.emittedTCo2EPerYr
    balance.netSequestration = balance.netTCo2EPerYr < 0
    for group in Carbon_Aldo_V1_LandUseGroup.balanceOrder {
      var row = rows[group] ?? Carbon_Aldo_V1_LandUseFlux()
      row.group = group
      row.label = group.label
      let net = row.netFluxTCo2EPerYr
      if net < 0 && balance.sequesteredTCo2EPerYr != 0 {
        row.sequestrationShareFraction = net / balance.sequesteredTCo2EPerYr
      }
      if net > 0 && balance.emittedTCo2EPerYr != 0 {
        row.emissionShareFraction = net / balance.emittedTCo2EPerYr
      }
      balance.landUses.append(row)
    }
    return balance
  }
}

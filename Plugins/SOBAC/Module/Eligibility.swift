import CarbonDomain
import CarbonPluginKit

/// Eligibility (§4.1): "Les Projets souhaitant utiliser la Méthode SOBAC'ECO-TMM […] devront
/// répondre à plusieurs critères : […] Avoir au moins un atelier de production végétale"; §2
/// names them: "grandes cultures, de maraîchage, de prairies et fourrages, de viticulture, ou
/// d'arboriculture".
struct Eligibility: Sendable {
  /// Refuses a farm without a crop in its project years ([`eligibility_crop_workshop`]
  /// decision: the criterion holds for the project; a crop workshop that existed only before the
  /// Notification does not make the project eligible).
  func check(
    _ farm: Carbon_Sobac_V1_Farm, path: String, project: [(year: Carbon_Sobac_V1_FarmYear, path: String)]
  ) throws(ModuleError) {
    guard project.contains(where: { !$0.year.crops.isEmpty }) else {
      throw .failedPrecondition(
        rule: "sobac.eligibility.crop_workshop",
        "\(path): farm \(farm.farmID.quoted) has no crop in its project years \(project.first.map { "\($0.year.year)" } ?? "")..\(project.last.map { "\($0.year.year)" } ?? ""): §4.1 requires at least one crop workshop (\"au moins un atelier de production végétale\": field crops, vegetables, grassland and forage, vines, orchards); list the farm's crops (forage with self_consumed and produced_t)")
    }
  }
}

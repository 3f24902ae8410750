import Foundation

/// What a module receives when the host creates it.
public struct ModuleContext: Sendable {
  /// The module's `config` table of the deployment file, as JSON text ("{}" when absent).
  public let configJSON: String
  /// A directory private to this module, existing and writable.
  public let dataDirectory: String

  public init(configJSON: String = "{}", dataDirectory: String) {
    self.configJSON = configJSON
    self.dataDirectory = dataDirectory
  }

  /// Decodes the configuration into a `Decodable` type; a decoding failure becomes an
  /// INVALID_ARGUMENT naming the configuration key.
  public func decodeConfig<Config: Decodable>(_ type: Config.Type) throws(ModuleError) -> Config {
    do {
      return try JSONDecoder().decode(Config.self, from: Data(configJSON.utf8))
    } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
      let DecodingError.dataCorrupted(context)
    {
      let path = Self.path(context.codingPath)
      throw .invalidArgument("config\(path)", context.debugDescription)
    } catch let DecodingError.keyNotFound(key, context) {
      let path = Self.path(context.codingPath + [key])
      throw .invalidArgument("config\(path)", "is required")
    } catch {
      throw .invalidArgument("config", "\(error)")
    }
  }

  private static func path(_ keys: [any CodingKey]) -> String {
    keys.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
  }
}

import Foundation

/// A module's version as its plugin declares it ("1.2.0", "1.1.0-rc.1"), ordered as semantic
/// versioning orders them: numeric fields by number, a pre-release below its release.
///
/// A deployment serves several versions of one module side by side (`[modules."esca@1.0.0"]`);
/// callers pick one with the `carbonhub-module-version` header (`VersionSelector`).
public struct ModuleVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
  /// The version as declared.
  public let text: String
  /// "1.2.0" of "1.2.0-rc.1+build.5".
  private let core: [Identifier]
  /// "rc.1" of "1.2.0-rc.1+build.5"; empty for a release.
  private let preRelease: [Identifier]

  /// One dot-separated field: numbers compare as numbers and sort before words.
  private enum Identifier: Hashable, Comparable {
    case number(UInt64)
    case word(String)

    init(_ text: Substring) {
      if let number = UInt64(text), text.allSatisfy(\.isASCII) { self = .number(number) } else { self = .word(String(text)) }
    }
  }

  public init(_ text: String) {
    self.text = text
    let withoutBuild = text.split(separator: "+", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    let parts = withoutBuild.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
    core = parts[0].split(separator: ".", omittingEmptySubsequences: false).map(Identifier.init)
    preRelease = parts.count > 1 ? parts[1].split(separator: ".", omittingEmptySubsequences: false).map(Identifier.init) : []
  }

  /// True for "1.1.0-rc.1": served only to callers who name it exactly.
  public var isPreRelease: Bool { !preRelease.isEmpty }

  public var description: String { text }

  public static func < (lhs: ModuleVersion, rhs: ModuleVersion) -> Bool {
    // "1.2" and "1.2.0" are the same release.
    let width = max(lhs.core.count, rhs.core.count)
    let left = lhs.core + Array(repeating: .number(0), count: width - lhs.core.count)
    let right = rhs.core + Array(repeating: .number(0), count: width - rhs.core.count)
    if left != right { return left.lexicographicallyPrecedes(right) }
    switch (lhs.preRelease.isEmpty, rhs.preRelease.isEmpty) {
    case (true, _): return false
    case (false, true): return true
    case (false, false):
      if lhs.preRelease != rhs.preRelease { return lhs.preRelease.lexicographicallyPrecedes(rhs.preRelease) }
      return lhs.text < rhs.text
    }
  }

  public static func == (lhs: ModuleVersion, rhs: ModuleVersion) -> Bool { lhs.text == rhs.text }
  public func hash(into hasher: inout Hasher) { hasher.combine(text) }
}

/// What a caller asked for in the `carbonhub-module-version` header: an exact version
/// ("1.0.0", "1.1.0-rc.1") or a release prefix ("1", "1.0": the highest serving release whose
/// fields start with these).
public struct VersionSelector: Sendable, CustomStringConvertible {
  /// The request header that pins a module version.
  public static let header = "carbonhub-module-version"
  /// The response header naming the version that answered.
  public static let answeredHeader = "carbonhub-module-version"

  public let text: String

  public init?(_ text: String) {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    guard !trimmed.isEmpty else { return nil }
    self.text = trimmed
  }

  public var description: String { text }

  /// True when `version` is the one asked for: the same text, or a release whose fields begin
  /// with the selector's ("1.0" selects "1.0.0" and "1.0.3", not "1.01.0" nor "1.0.0-rc.1").
  public func selects(_ version: ModuleVersion) -> Bool {
    if version.text == text { return true }
    return !version.isPreRelease && version.text.hasPrefix(text + ".")
  }
}

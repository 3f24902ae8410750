/// A per-method authorisation rule of a module (`[[modules.<name>.rules]]`), applied after the
/// module's `allow` list, as Envoy's RBAC policies and Vault's path policies do: the first rule
/// whose `methods` match the called method decides who may call it; a method no rule matches is
/// governed by the module's `allow` list alone.
///
/// ```toml
/// [[modules.cop-vivier.rules]]          # read-only auditor
/// methods = ["Get*", "List*", "Export*"]
/// allow = ["cn:auditor", "cn:coop-a"]
/// [[modules.cop-vivier.rules]]          # everything else: the co-operative only
/// methods = ["*"]
/// allow = ["cn:coop-a"]
/// ```
public struct MethodRule: Sendable, Equatable {
  /// Method names (`CreateProject`), or prefixes ending with `*` (`Get*`; `*` alone: every method).
  public var methods: [String]
  /// Identities (typed, as in `allow` lists) who may call the methods this rule matches.
  public var allow: [String]

  /// A rule.
  public init(methods: [String], allow: [String]) {
    self.methods = methods
    self.allow = allow
  }

  /// True when one of `methods` names `method` (the method's name, without its service).
  public func covers(_ method: String) -> Bool {
    methods.contains { pattern in
      pattern.hasSuffix("*") ? method.hasPrefix(pattern.dropLast()) : method == pattern
    }
  }

  /// The index of the first rule of `rules` covering `method`, nil when none does.
  public static func deciding(_ rules: [MethodRule], for method: String) -> Int? {
    rules.firstIndex { $0.covers(method) }
  }
}

import CarbonDomain
@testable import CarbonHost
import CarbonPluginLoader
import Testing

@Suite("Deployment file")
struct DeploymentConfigTests {
  let defaults = DeploymentConfig(pluginDirectory: "/opt/carbonhub/plugins", stateDirectory: "/var/lib/carbonhub")

  /// The README's "Deployment file" example is a file an admin copies: it must parse, with its
  /// keys where the comments say (a top-level key after a table header would belong to it).
  @Test func theReadmeExampleParses() throws {
    let readme = try String(contentsOfFile: TestEnvironment.repositoryRoot + "/README.md", encoding: .utf8)
    let section = try #require(readme.range(of: "## Deployment file"))
    let start = try #require(readme.range(of: "```toml\n", range: section.upperBound..<readme.endIndex))
    let end = try #require(readme.range(of: "\n```", range: start.upperBound..<readme.endIndex))
    // The pin is a placeholder in the README.
    let text = String(readme[start.upperBound..<end.lowerBound]).replacingOccurrences(of: "…64 hex…", with: String(repeating: "ab", count: 32))
    let config = try DeploymentConfig.parse(toml: text, defaults: defaults)
    #expect(config.metricsListen == "127.0.0.1:9464" && config.instanceName == "carbonhub-1")
    #expect(config.maxMessageBytes == 4 << 20 && config.modules.first?.maxMessageBytes == 32 << 20)
    #expect(config.limits.memoryBudgetBytes == 2048 << 20 && config.limits.handshakeTimeoutMilliseconds == 10_000)
    #expect(config.access.admins == ["cn:ops"])
  }

  @Test func parsesACompleteFile() throws {
    let config = try DeploymentConfig.parse(toml: """
      listen = "0.0.0.0:9443"
      plugin_dir = "/srv/plugins"
      max_message_bytes = 8388608

      [tls]
      certificate = "/etc/carbonhub/server.pem"
      key = "/etc/carbonhub/server-key.pem"

      [modules.esca]
      path = "libESCA.so"
      sha256 = "AB12000000000000000000000000000000000000000000000000000000000000"
      [modules.esca.config]
      ef_policy = "GUIDELINES"
      thresholds = { cap = 45, strict = true }

      [modules.units]
      enabled = false
      path = "/abs/libExampleUnits.so"
      """, defaults: defaults)
    #expect(config.listen == "0.0.0.0:9443")
    #expect(config.pluginDirectory == "/srv/plugins")
    #expect(config.stateDirectory == "/var/lib/carbonhub", "defaults fill what the file leaves out")
    #expect(config.maxMessageBytes == 8_388_608)
    #expect(config.tlsCertificate == "/etc/carbonhub/server.pem")
    #expect(config.modules.map(\.name) == ["esca", "units"])
    let esca = try #require(config.modules.first)
    #expect(esca.sha256 == "ab12" + String(repeating: "0", count: 60))
    #expect(esca.configJSON == #"{"ef_policy":"GUIDELINES","thresholds":{"cap":45,"strict":true}}"#)
    #expect(config.modules.last?.enabled == false)
    #expect(config.modules.last?.configJSON == "{}")
  }

  /// A module's `config` reaches its `initialize` with every number as the file gives it (the
  /// file is read through TOMLKit's JSON and `JSONValue`, never JSONSerialization's doubles).
  @Test func moduleConfigNumbersReachTheModuleExactly() throws {
    let config = try DeploymentConfig.parse(
      toml: """
        [modules.esca]
        path = "libESCA.so"
        [modules.esca.config]
        factor = 15.341088000000001
        rate = 0.1200192000000003
        count = 12
        """, defaults: DeploymentConfig(pluginDirectory: "/p", stateDirectory: "/s"))
    let json = try JSONValue(parsing: Array(config.modules[0].configJSON.utf8))
    #expect(json["factor"]?.doubleValue?.bitPattern == (15.341088000000001 as Double).bitPattern, "\(config.modules[0].configJSON)")
    #expect(json["rate"]?.doubleValue?.bitPattern == (0.1200192000000003 as Double).bitPattern, "\(config.modules[0].configJSON)")
    #expect(json["count"] == .number("12"))
  }

  @Test("errors name the offending key", arguments: [
    ("lisen = \"x\"", "lisen"),
    ("listen = 8443", "listen"),
    ("listen = \"nohostport\"", "listen"),
    ("[tls]\ncertificate = \"a.pem\"", "tls"),
    ("[tls]\ninsecure_loopback = \"yes\"", "tls.insecure_loopback"),
    ("listen = \"0.0.0.0:8443\"\n[tls]\ninsecure_loopback = true", "tls.insecure_loopback"),
    ("[modules.esca]\nenabled = true", "modules.esca.path"),
    ("[modules.esca]\npath = \"x.so\"\nsha256 = \"abc\"", "modules.esca.sha256"),
    ("[modules.esca]\npath = \"x.so\"\nenabld = false", "modules.esca.enabld"),
    ("max_message_bytes = 10", "max_message_bytes"),
    ("max_message_bytes = 1.5", "max_message_bytes"),
    ("[trust]\nrequire_signatures = true", "trust.require_signatures"),
    ("[trust]\nrequire_signature = 1", "trust.require_signature"),
    ("[trust]\nrequire_signature = true", "trust.require_signature"),
    ("[trust.publishers]\nacme = \"bm90IGEga2V5\"", "trust.publishers.acme"),
    ("[trust.publishers]\nacme = 12", "trust.publishers.acme"),
  ])
  func errorsNameTheKey(toml: String, key: String) {
    do {
      _ = try DeploymentConfig.parse(toml: toml, defaults: defaults)
      Issue.record("expected an error for \(toml)")
    } catch {
      #expect(error.key == key, "\(error)")
    }
  }

  /// TOMLKit's decoder reads the file into typed tables (`DeploymentFile`): a value of the wrong
  /// type is named with what the key needs, down to a list's element.
  @Test("a value of the wrong type says what the key needs", arguments: [
    ("listen = 8443", "listen", "must be a string"),
    ("max_message_bytes = 1.5", "max_message_bytes", "must be an integer"),
    ("max_message_bytes = \"4MiB\"", "max_message_bytes", "must be an integer"),
    ("[limits]\ninline_fast_calls = 1", "limits.inline_fast_calls", "must be true or false"),
    ("tls = 5", "tls", "must be a table"),
    ("modules = [1]", "modules", "must be a table"),
    ("[access]\nclient_ca = \"ca.pem\"\nadmins = \"cn:ops\"", "access.admins", "must be a list"),
    ("[modules.u]\npath = \"u.so\"\nallow = [\"cn:a\", 1]", "modules.u.allow[1]", "must be a string"),
    ("[modules.u]\npath = \"u.so\"\n[[modules.u.rules]]\nmethods = [\"Get*\"]\nallow = [true]", "modules.u.rules[0].allow[0]", "must be a string"),
    ("[modules.u]\npath = \"u.so\"\nisolation = \"isolated\"\nconnect_ports = [\"5432\"]", "modules.u.connect_ports[0]", "must be an integer"),
  ])
  func wrongTypesNameTheKeyAndTheType(toml: String, key: String, message: String) {
    do {
      _ = try DeploymentConfig.parse(toml: toml, defaults: defaults)
      Issue.record("expected an error for \(toml)")
    } catch {
      #expect(error.key == key && error.message == message, "\(error)")
    }
  }

  /// `[workers]`: every key read, in milliseconds; bad values named.
  @Test func parsesTheWorkersTable() throws {
    let config = try DeploymentConfig.parse(toml: """
      [workers]
      restart_delay_ms = 250
      restart_delay_max_ms = 4000
      restart_reset_after_ms = 60000
      start_timeout_ms = 10000
      cancel_grace_ms = 500
      ping_interval_ms = 2000
      ping_timeout_ms = 6000
      stop_grace_ms = 1000
      retire_grace_ms = 15000
      """, defaults: defaults)
    let workers = config.workers
    #expect(workers.restartBackoff == WorkerSupervisor.Backoff(initial: .milliseconds(250), maximum: .seconds(4), resetAfter: .seconds(60)))
    #expect(workers.startTimeout == .seconds(10) && workers.cancelGrace == .milliseconds(500))
    #expect(workers.liveness == WorkerSupervisor.Liveness(interval: .seconds(2), timeout: .seconds(6)))
    #expect(workers.stopGrace == .seconds(1) && workers.retireGrace == .seconds(15))
    // The defaults without a [workers] table: 100 ms doubling to 10 s, reset after 30 s.
    let plain = try DeploymentConfig.parse(toml: "", defaults: defaults).workers
    #expect(plain.restartBackoff == .default && plain.cancelGrace == .seconds(2) && plain.liveness == .default)
    #expect(plain.restartBackoff.delay(attempt: 1) == .milliseconds(100) && plain.restartBackoff.delay(attempt: 8) == .seconds(10))
    for (text, key) in [
      ("[workers]\nping_timeout_ms = 0", "workers.ping_timeout_ms"),
      ("[workers]\nrestart_delay_ms = 5000\nrestart_delay_max_ms = 1000", "workers.restart_delay_max_ms"),
      ("[workers]\nrestart_delay = 5", "workers.restart_delay"),
      ("[workers]\ncancel_grace_ms = \"2s\"", "workers.cancel_grace_ms"),
    ] {
      do {
        _ = try DeploymentConfig.parse(toml: text, defaults: defaults)
        Issue.record("\(text): accepted")
      } catch {
        #expect(error.key == key, "\(text): \(error)")
      }
    }
  }

  /// `[receipts]`: on by default with the key in the state directory; off, or a key file.
  @Test func parsesTheReceiptsTable() throws {
    #expect(try DeploymentConfig.parse(toml: "", defaults: defaults).receipts == .init(enabled: true, keyFile: nil))
    #expect(try DeploymentConfig.parse(toml: "[receipts]\nenabled = false", defaults: defaults).receipts.enabled == false)
    let keyed = try DeploymentConfig.parse(toml: "[receipts]\nkey_file = \"/etc/carbonhub/receipt.key\"", defaults: defaults)
    #expect(keyed.receipts == .init(enabled: true, keyFile: "/etc/carbonhub/receipt.key"))
    #expect(try DeploymentConfig.parse(toml: "[receipts]\nbatch_window_us = 250", defaults: defaults).receipts.batchWindow == .microseconds(250))
    for (text, key, message) in [
      ("[receipts]\nenabled = false\nkey_file = \"k\"", "receipts.key_file", "receipts are off"),
      ("[receipts]\nkey_file = \"\"", "receipts.key_file", "must not be empty"),
      ("[receipts]\nenabled = \"yes\"", "receipts.enabled", "must be true or false"),
      ("[receipts]\nkey = \"k\"", "receipts.key", "allowed: batch_window_us, enabled, key_file"),
      ("[receipts]\nbatch_window_us = -1", "receipts.batch_window_us", "between 0 and 100000"),
    ] {
      do {
        _ = try DeploymentConfig.parse(toml: text, defaults: defaults)
        Issue.record("\(text): accepted")
      } catch {
        #expect(error.key == key && error.message.contains(message), "\(text): \(error)")
      }
    }
  }

  /// An unknown key lists the keys its table allows, read from the table's `CodingKeys`.
  @Test func anUnknownKeyListsTheKeysItsTableAllows() throws {
    func refusal(_ toml: String) -> DeploymentConfig.Error? {
      do { _ = try DeploymentConfig.parse(toml: toml, defaults: defaults) } catch { return error }
      return nil
    }
    let top = try #require(refusal("lisen = \"x\""))
    #expect(top.key == "lisen")
    #expect(top.message.contains("allowed: access, audit_log, http_listen, instance_name, limits, listen, max_message_bytes,"), "\(top)")
    let module = try #require(refusal("[modules.esca]\npath = \"x.so\"\nenabld = false"))
    #expect(module.key == "modules.esca.enabld" && module.message.contains("call_timeout_ms, config, confinement,"), "\(module)")
    let rule = try #require(refusal("[modules.u]\npath = \"u.so\"\n[[modules.u.rules]]\nmethods = [\"A\"]\nallow = [\"cn:a\"]\ndeny = [\"cn:b\"]"))
    #expect(rule.key == "modules.u.rules[0].deny" && rule.message == "unknown key (allowed: allow, methods)", "\(rule)")
    let limits = try #require(refusal("[limits]\nmemory_budget = 1"))
    #expect(limits.key == "limits.memory_budget" && limits.message.contains("memory_budget_mb"), "\(limits)")
  }

  /// A module's `config` table is the module's: any key, nested tables and lists of tables pass
  /// through whole, while a typo beside it in the module's own table is still refused.
  @Test func aModuleConfigTableIsTheModules() throws {
    let config = try DeploymentConfig.parse(toml: """
      [modules.cop]
      path = "libCOPVivier.so"
      [modules.cop.config]
      enabld = 1
      storage = { kind = "sqlite", path = "pool.db" }
      regions = ["84", "93"]
      [[modules.cop.config.pools]]
      name = "Auvergne"
      """, defaults: defaults)
    let json = try JSONValue(parsing: Array(config.modules[0].configJSON.utf8))
    #expect(json["enabld"] == .number("1"))
    #expect(json["storage"]?["kind"] == .string("sqlite"))
    #expect(json["regions"] == .array([.string("84"), .string("93")]))
    guard case .array(let pools) = json["pools"] else { Issue.record("pools: \(config.modules[0].configJSON)"); return }
    #expect(pools.first?["name"] == .string("Auvergne"))
    #expect(throws: DeploymentConfig.Error.self) {
      try DeploymentConfig.parse(toml: "[modules.cop]\npath = \"x.so\"\nenabld = 1\n[modules.cop.config]\nenabld = 1", defaults: defaults)
    }
  }

  /// Each key is declared once, in `DeploymentFile`'s `CodingKeys`, and docs/deployment.md
  /// explains every one of them.
  @Test func everyKeyOfTheFileIsDocumented() throws {
    let docs = try String(contentsOfFile: TestEnvironment.repositoryRoot + "/docs/deployment.md", encoding: .utf8)
    func keys<Keys: CodingKey & CaseIterable>(_: Keys.Type) -> [String] { Keys.allCases.map(\.stringValue) }
    let all =
      keys(DeploymentFile.CodingKeys.self) + keys(DeploymentFile.TLS.CodingKeys.self) + keys(DeploymentFile.Access.CodingKeys.self)
      + keys(DeploymentFile.Trust.CodingKeys.self) + keys(DeploymentFile.Module.CodingKeys.self)
      + keys(DeploymentFile.Rule.CodingKeys.self) + keys(DeploymentFile.Limits.CodingKeys.self)
      + keys(DeploymentFile.Workers.CodingKeys.self) + keys(DeploymentFile.Receipts.CodingKeys.self)
    for key in all {
      // As `key`, or as a table: `[modules.<name>]`, `[modules.<name>.config]`, `[trust.publishers]`.
      let described = ["`\(key)`", "[\(key)]", "[\(key).", ".\(key)]"].contains { docs.contains($0) }
      #expect(described, "docs/deployment.md does not describe \(key)")
    }
  }

  @Test func parsesTheTrustTable() throws {
    let acme = "Zt6mS7Ohr2YvT0Y8v8bGjR4PbDqq9eJd6LkHq3wQw0Q="
    let config = try DeploymentConfig.parse(toml: """
      [trust]
      require_signature = true
      [trust.publishers]
      acme = "\(acme)"
      """, defaults: defaults)
    #expect(config.trust.requireSignature)
    #expect(config.trust.requireManifest, "a [trust] table keeps the default: manifests required")
    #expect(!config.trust.allowSymlinks)
    #expect(config.trust.trustedPublishers.mapValues(\.base64) == ["acme": acme])
    // Issue 26: "manifests required by default for every plugin the deployment does not pin".
    #expect(try DeploymentConfig.parse(toml: "", defaults: defaults).trust == PluginTrustPolicy(requireManifest: true))
    let relaxed = try DeploymentConfig.parse(toml: "[trust]\nrequire_manifest = false\nallow_symlinks = true", defaults: defaults)
    #expect(!relaxed.trust.requireManifest && relaxed.trust.allowSymlinks)
    do {
      _ = try DeploymentConfig.parse(toml: "[trust.publishers]\nacme = \"bm90IGEga2V5\"", defaults: defaults)
      Issue.record("expected a key error")
    } catch {
      #expect(error.description.hasPrefix("trust.publishers.acme: is 9 bytes; an Ed25519 public key is 32"), "\(error)")
    }
  }

  @Test func syntaxErrorsGiveTheLine() {
    do {
      _ = try DeploymentConfig.parse(toml: "listen = \"a:1\"\n[modules\n", defaults: defaults)
      Issue.record("expected an error")
    } catch {
      #expect(error.message.contains("line 2"), "\(error)")
    }
  }

  @Test func listenAddresses() throws {
    #expect(try ListenAddress("127.0.0.1:8443") == ListenAddress("127.0.0.1:8443"))
    #expect(try ListenAddress("[::1]:0").host == "::1")
    #expect(try ListenAddress("[::1]:0").isLoopback)
    #expect(try ListenAddress("localhost:1").isLoopback)
    #expect(try !ListenAddress("10.0.0.1:1").isLoopback)
    #expect(throws: (any Error).self) { try ListenAddress("127.0.0.1:70000") }
  }
}

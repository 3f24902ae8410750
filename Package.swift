// swift-tools-version:6.1
// The carbon-accounting plugin platform: a host that dlopens calculation modules and serves
// them over TLS gRPC. See README.md for the tour and DESIGN notes in docs/.
import PackageDescription

/// A product of the plugin SDK (sdk/carbonhub-sdk): the ABI header, the domain types, the kit.
func sdk(_ name: String) -> Target.Dependency { .product(name: name, package: "carbonhub-sdk") }

/// A plugin library exports its entry point and nothing else (sdk/carbonhub-sdk/plugin-exports.map).
let pluginLinkerSettings: [LinkerSetting] = [
  .unsafeFlags(["-Xlinker", "--version-script=\(Context.packageDirectory)/sdk/carbonhub-sdk/plugin-exports.map"], .when(platforms: [.linux]))
]

/// Every Swift plugin is built on the kit and the shared domain types, nothing else of ours.
let pluginDependencies: [Target.Dependency] = [
  sdk("CarbonPluginKit"),
  sdk("CarbonDomain"),
  .product(name: "SwiftProtobuf", package: "swift-protobuf"),
]

let package = Package(
  name: "carbonhub",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "carbonhub", targets: ["carbonhub"]),
    .executable(name: "carbonhub-bench", targets: ["CarbonBench"]),
    .library(name: "CarbonHost", targets: ["CarbonHost"]),
    // Plugins: each is a shared library the host dlopens; build one with
    // `swift build --product <Name>`.
    .library(name: "ExampleUnits", type: .dynamic, targets: ["ExampleUnits"]),
    .library(name: "ESCA", type: .dynamic, targets: ["ESCA"]),
    .library(name: "SOBAC", type: .dynamic, targets: ["SOBAC"]),
    .library(name: "ALDO", type: .dynamic, targets: ["ALDO"]),
    .library(name: "SNBC", type: .dynamic, targets: ["SNBC"]),
    .library(name: "COPVivier", type: .dynamic, targets: ["COPVivier"]),
  ],
  dependencies: [
    // The plugin SDK (ABI header, domain types, kit): the product's plugins use it as any
    // out-of-tree module does.
    .package(path: "sdk/carbonhub-sdk"),
    .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
    .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    // HTTP/2 frames: the host reads a request message's size from its prefix on the stream.
    .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
    .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    // Metrics: recorded through swift-metrics, exposed for Prometheus by swift-prometheus.
    .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    // The host's lifetime: signals and graceful shutdown (ServiceGroup).
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    // Latency percentiles of `carbonhub load` in bounded memory.
    .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    // The COP pool's storage: embedded SQLite by default, PostgreSQL for shared pools.
    .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
  ],
  targets: [
    // The host side of the ABI: opens, validates and calls plugin libraries; checks their
    // conformance. Depends on the ABI header only (never on the plugin kit).
    .target(
      name: "CarbonPluginLoader",
      dependencies: [
        sdk("CarbonPluginABI"),
        sdk("CarbonDomain"),
        "CHeapStats",
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "Crypto", package: "swift-crypto"),
      ],
      path: "Sources/CarbonPluginLoader"
    ),

    // Test-only helpers shared by the test targets (never linked into a plugin or the host):
    // checking exported workbooks with LibreOffice and charts with librsvg, and the trait that
    // runs the suites that compute for long stretches off Swift's cooperative pool.
    .target(name: "CarbonTestSupport", dependencies: [sdk("CarbonPluginKit")], path: "Sources/CarbonTestSupport"),

    // malloc statistics for the conformance checker's leak check (glibc's mallinfo2).
    .target(name: "CHeapStats", path: "Sources/CHeapStats"),
    // Landlock and seccomp for isolated modules' workers (Linux system calls, no library).
    .target(name: "CWorkerSandbox", path: "Sources/CWorkerSandbox"),

    // Generated messages and gRPC stubs of the host's own services (host admin API, health,
    // reflection), shared by the host (server side) and the CLI (client side).
    .target(
      name: "CarbonHostProtocol",
      dependencies: [
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
      ],
      path: "Sources/CarbonHostProtocol",
      resources: [.embedInCode("Generated/descriptor_set.binpb")]
    ),

    // The host: deployment config, loader, registry, routing, gRPC services, TLS.
    .target(
      name: "CarbonHost",
      dependencies: [
        sdk("CarbonDomain"),
        "CarbonPluginLoader",
        "CarbonHostProtocol",
        "CWorkerSandbox",
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOHTTP2", package: "swift-nio-http2"),
        .product(name: "NIOHPACK", package: "swift-nio-http2"),
        .product(name: "CoreMetrics", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "NIOTLS", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "SwiftASN1", package: "swift-asn1"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "TOMLKit", package: "TOMLKit"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      path: "Sources/CarbonHost"
    ),

    // The single executable: serve, modules, call, certs, verify.
    .executableTarget(
      name: "carbonhub",
      dependencies: [
        "CarbonHost",
        "CarbonHostProtocol",
        "CarbonPluginLoader",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Histogram", package: "hdrhistogram-swift"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      path: "Sources/carbonhub"
    ),

    // Benchmarks (release builds only: `swift build -c release --product carbonhub-bench`).
    .executableTarget(
      name: "CarbonBench",
      dependencies: [
        "CarbonHost",
        sdk("CarbonPluginKit"),
        "CarbonPluginLoader",
        sdk("CarbonDomain"),
        "ExampleUnitsModule",
        // Only to build the streaming-batch requests from the sample JSON; the calls go through
        // the dlopen'd libESCA.so / libSOBAC.so like the host's.
        "ESCAModule",
        "SOBACModule",
        "CarbonHostProtocol",
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "Logging", package: "swift-log"),
        // The HTTP gateway's load: a small keep-alive HTTP/1.1 client over TLS.
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
      ],
      path: "Benchmarks/CarbonBench"
    ),

    // Plugins.
    // Each plugin is two targets: <Name>Module (the calculation and its CarbonModule
    // conformance, linkable by tests) and <Name> (the exported entry symbol, built as the
    // dynamic library product the host loads).
    .target(
      name: "ExampleUnitsModule",
      dependencies: pluginDependencies,
      path: "Plugins/examples/units-swift/Module",
      exclude: ["protos.list"],
      resources: [.embedInCode("Generated/descriptor_set.binpb")]
    ),
    .target(
      name: "ExampleUnits",
      dependencies: ["ExampleUnitsModule", sdk("CarbonPluginKit")],
      path: "Plugins/examples/units-swift/Entry",
      linkerSettings: pluginLinkerSettings
    ),

    // ESCA (2BS guidelines V7): soil-carbon accumulation bonus in the RED biofuel formula.
    .target(
      name: "ESCAModule",
      dependencies: pluginDependencies,
      path: "Plugins/ESCA/Module",
      exclude: ["protos.list"],
      resources: [
        .embedInCode("Generated/descriptor_set.binpb"), .embedInCode("Data/ipcc-2019-soc-ref.csv"),
        .embedInCode("Data/ipcc-2019-cropland-factors.csv"), .embedInCode("Data/esca-annex3-regional-csr.csv"),
      ]
    ),
    .target(
      name: "ESCA", dependencies: ["ESCAModule", sdk("CarbonPluginKit")], path: "Plugins/ESCA/Entry",
      linkerSettings: pluginLinkerSettings),

    // SOBAC'ECO-TMM (Label Bas-Carbone): farm input-reduction projects.
    .target(
      name: "SOBACModule",
      dependencies: pluginDependencies,
      path: "Plugins/SOBAC/Module",
      exclude: ["protos.list"],
      resources: [
        .embedInCode("Generated/descriptor_set.binpb"), .embedInCode("Data/inputs.csv"),
        .embedInCode("Data/amendment-compositions.csv"), .embedInCode("Data/field-factors.csv"),
        .embedInCode("Data/audit-sample.csv"), .embedInCode("Data/ift-field-crops.csv"),
        .embedInCode("Data/ift-vegetables.csv"), .embedInCode("Data/ift-vineyards.csv"),
        .embedInCode("Data/ift-fruit.csv"),
      ]
    ),
    .target(
      name: "SOBAC", dependencies: ["SOBACModule", sdk("CarbonPluginKit")], path: "Plugins/SOBAC/Entry",
      linkerSettings: pluginLinkerSettings),

    // ALDO (ADEME): carbon flux by land use for a territory.
    .target(
      name: "ALDOModule",
      // Crypto: the sha256 of the territory files shipped beside the plugin, checked at load.
      dependencies: pluginDependencies + [.product(name: "Crypto", package: "swift-crypto")],
      path: "Plugins/ALDO/Module",
      exclude: ["protos.list"],
      resources: [
        .embedInCode("Generated/descriptor_set.binpb"), .embedInCode("Data/aldo-constants.csv"),
        .embedInCode("Data/land-uses.csv"), .embedInCode("Data/flux-zpc.csv"), .embedInCode("Data/stocks-zpc.csv"),
        .embedInCode("Data/biomass-hors-forets.csv"), .embedInCode("Data/biomass-key-replacements.csv"),
        .embedInCode("Data/region-to-inter-region.csv"),
        .embedInCode("Data/bilan-carbone-foret-par-localisation.csv"),
        .embedInCode("Data/forest-compositions.csv"), .embedInCode("Data/proportion-usage-bois-par-region.csv"),
        .embedInCode("Data/agricultural-practices.csv"), .embedInCode("Data/carbone-haies.csv"),
        .embedInCode("Data/epci.csv"), .embedInCode("Data/territory-files.csv"),
        .embedInCode("Data/region-forest-codes.csv"), .embedInCode("Data/epci-mergers-2018.csv"),
        .embedInCode("Data/arrondissements.csv"),
        // Commune-level files (2.9 MB) are too big to embed in code: copied beside the .so.
        .copy("Territory"),
      ]
    ),
    .target(
      name: "ALDO", dependencies: ["ALDOModule", sdk("CarbonPluginKit")], path: "Plugins/ALDO/Entry",
      linkerSettings: pluginLinkerSettings),

    // SNBC alignment: a company's trajectory against the national carbon budgets.
    .target(
      name: "SNBCModule",
      dependencies: pluginDependencies,
      path: "Plugins/SNBC/Module",
      exclude: ["protos.list"],
      resources: [
        .embedInCode("Generated/descriptor_set.binpb"), .embedInCode("Data/snbc-series.csv"),
        .embedInCode("Data/snbc-annex-values.csv"), .embedInCode("Data/snbc-combinations.csv"),
      ]
    ),
    .target(
      name: "SNBC", dependencies: ["SNBCModule", sdk("CarbonPluginKit")], path: "Plugins/SNBC/Entry",
      linkerSettings: pluginLinkerSettings),

    // COP "vivier": the regional pool of ecological-planning projects (persistent register).
    .target(
      name: "COPVivierModule",
      dependencies: pluginDependencies + [
        .product(name: "GRDB", package: "GRDB.swift"),
        .product(name: "PostgresNIO", package: "postgres-nio"),
        .product(name: "Logging", package: "swift-log"),
      ],
      path: "Plugins/COPVivier/Module",
      exclude: ["protos.list"],
      resources: [
        .embedInCode("Generated/descriptor_set.binpb"), .embedInCode("Data/levers.csv"),
        .embedInCode("Data/lever-aliases.csv"), .embedInCode("Data/sgpe-lever-values.csv"),
        .embedInCode("Data/effort-shares.csv"), .embedInCode("Data/seed-round-2024.csv"),
        .embedInCode("Data/retired-levers.csv"), .embedInCode("Data/epci-hauts-de-france.csv"),
        .embedInCode("Data/csv-columns.csv"),
      ]
    ),
    .target(
      name: "COPVivier", dependencies: ["COPVivierModule", sdk("CarbonPluginKit")], path: "Plugins/COPVivier/Entry",
      linkerSettings: pluginLinkerSettings),

    // Tests.
    .testTarget(
      name: "CarbonDomainTests",
      dependencies: [sdk("CarbonDomain")],
      path: "Tests/CarbonDomainTests"
    ),
    // Fast: manifests, signatures, trust policy and the ELF reader, no plugin built.
    .testTarget(
      name: "CarbonPluginLoaderTests",
      dependencies: ["CarbonPluginLoader"],
      path: "Tests/CarbonPluginLoaderTests"
    ),
    .testTarget(
      name: "CarbonPluginKitTests",
      dependencies: [
        "CarbonTestSupport",
        sdk("CarbonPluginKit"), sdk("CarbonPluginTesting"), sdk("CarbonDomain"), "CarbonPluginLoader", "ExampleUnitsModule",
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      path: "Tests/CarbonPluginKitTests"
    ),
    .testTarget(
      name: "ESCATests",
      dependencies: [
        "CarbonTestSupport",
        "ESCAModule", sdk("CarbonPluginKit"), sdk("CarbonPluginTesting"), sdk("CarbonDomain"), .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      path: "Tests/ESCATests"
    ),
    .testTarget(
      name: "COPVivierTests", dependencies: ["CarbonTestSupport", "COPVivierModule", sdk("CarbonPluginKit"), sdk("CarbonPluginTesting"), sdk("CarbonDomain")],
      path: "Tests/COPVivierTests"
    ),
    .testTarget(
      name: "SOBACTests", dependencies: ["CarbonTestSupport", "SOBACModule", sdk("CarbonPluginKit"), sdk("CarbonPluginTesting"), sdk("CarbonDomain")], path: "Tests/SOBACTests"
    ),
    .testTarget(
      name: "ALDOTests", dependencies: ["CarbonTestSupport", "ALDOModule", sdk("CarbonPluginKit"), sdk("CarbonPluginTesting"), sdk("CarbonDomain")], path: "Tests/ALDOTests"
    ),
    .testTarget(
      name: "SNBCTests",
      dependencies: [
        "CarbonTestSupport",
        "SNBCModule", sdk("CarbonPluginKit"), sdk("CarbonPluginTesting"), sdk("CarbonDomain"), .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      path: "Tests/SNBCTests"
    ),
    .testTarget(
      name: "CarbonHostTests",
      dependencies: [
        "CarbonHost",
        "CarbonTestSupport",
        "CarbonHostProtocol",
        sdk("CarbonDomain"),
        sdk("CarbonPluginKit"), sdk("CarbonPluginTesting"),
        "CarbonPluginLoader",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "NIOHTTP2", package: "swift-nio-http2"),
        .product(name: "NIOHPACK", package: "swift-nio-http2"),
      ],
      path: "Tests/CarbonHostTests"
    ),
  ]
)

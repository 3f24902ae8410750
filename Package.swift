// swift-tools-version:6.1
// The carbon-accounting plugin platform: a host that dlopens calculation modules and serves
// them over TLS gRPC. See README.md for the tour and DESIGN notes in docs/.
import PackageDescription

/// Every Swift plugin is built on the kit and the shared domain types, nothing else of ours.
let pluginDependencies: [Target.Dependency] = [
  "CarbonPluginKit",
  "CarbonDomain",
  .product(name: "SwiftProtobuf", package: "swift-protobuf"),
]

let package = Package(
  name: "carbonhub",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "carbonhub", targets: ["carbonhub"]),
    .executable(name: "carbonhub-bench", targets: ["CarbonBench"]),
    .library(name: "CarbonDomain", targets: ["CarbonDomain"]),
    .library(name: "CarbonPluginKit", targets: ["CarbonPluginKit"]),
    .library(name: "CarbonHost", targets: ["CarbonHost"]),
    // Plugins: each is a shared library the host dlopens; build one with
    // `swift build --product <Name>`.
    .library(name: "ExampleUnits", type: .dynamic, targets: ["ExampleUnits"]),
  ],
  dependencies: [
    .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
    .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
  ],
  targets: [
    // The C plugin ABI: the only thing host and plugins share at the binary level.
    .target(name: "CarbonPluginABI", path: "Sources/CarbonPluginABI"),

    // Shared domain types (units, gases, GWP sets, periods, territories, sectors, land uses,
    // calculation traces) and their generated protobuf code.
    .target(
      name: "CarbonDomain",
      dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
      path: "Sources/CarbonDomain",
      resources: [
        .embedInCode("Data/regions.csv"),
        .embedInCode("Data/departments.csv"),
        .embedInCode("Data/gwp-sets.csv"),
      ]
    ),

    // The Swift SDK for plugin authors.
    .target(
      name: "CarbonPluginKit",
      dependencies: [
        "CarbonPluginABI",
        "CarbonDomain",
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      path: "Sources/CarbonPluginKit"
    ),

    // The host side of the ABI: opens, validates and calls plugin libraries; checks their
    // conformance. Depends on the ABI header only (never on the plugin kit).
    .target(
      name: "CarbonPluginLoader",
      dependencies: [
        "CarbonPluginABI",
        "CHeapStats",
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "Crypto", package: "swift-crypto"),
      ],
      path: "Sources/CarbonPluginLoader"
    ),

    // malloc statistics for the conformance checker's leak check (glibc's mallinfo2).
    .target(name: "CHeapStats", path: "Sources/CHeapStats"),

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
        "CarbonPluginLoader",
        "CarbonHostProtocol",
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "SwiftASN1", package: "swift-asn1"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "TOMLKit", package: "TOMLKit"),
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
      ],
      path: "Sources/carbonhub"
    ),

    // Benchmarks (release builds only: `swift build -c release --product carbonhub-bench`).
    .executableTarget(
      name: "CarbonBench",
      dependencies: [
        "CarbonHost",
        "CarbonPluginKit",
        "CarbonPluginLoader",
        "CarbonDomain",
        "ExampleUnitsModule",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "Logging", package: "swift-log"),
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
      dependencies: ["ExampleUnitsModule", "CarbonPluginKit"],
      path: "Plugins/examples/units-swift/Entry"
    ),

    // Tests.
    .testTarget(
      name: "CarbonDomainTests",
      dependencies: ["CarbonDomain"],
      path: "Tests/CarbonDomainTests"
    ),
    .testTarget(
      name: "CarbonPluginKitTests",
      dependencies: ["CarbonPluginKit", "CarbonDomain", "CarbonPluginLoader", "ExampleUnitsModule"],
      path: "Tests/CarbonPluginKitTests"
    ),
    .testTarget(
      name: "CarbonHostTests",
      dependencies: [
        "CarbonHost",
        "CarbonHostProtocol",
        "CarbonDomain",
        "CarbonPluginKit",
        "CarbonPluginLoader",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
      ],
      path: "Tests/CarbonHostTests"
    ),
  ]
)

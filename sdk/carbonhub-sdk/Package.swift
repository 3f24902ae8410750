// swift-tools-version:6.1
// The carbonhub plugin SDK: what a calculation module is built on, and nothing else — the C
// ABI header, the shared domain types and the Swift plugin kit, with SwiftProtobuf; and, for a
// module's tests, CarbonPluginTesting. The
// product's own plugins build against it exactly as an out-of-tree module does:
//
//     .package(path: "<carbonhub checkout>/sdk/carbonhub-sdk"),
//     … dependencies: [.product(name: "CarbonPluginKit", package: "carbonhub-sdk")]
//
// A Swift module must be built with the same Swift toolchain as the host that loads it (Swift
// has no stable ABI on Linux); see docs/writing-a-plugin.md.
import PackageDescription

let package = Package(
  name: "carbonhub-sdk",
  platforms: [.macOS(.v15)],
  products: [
    .library(name: "CarbonPluginABI", targets: ["CarbonPluginABI"]),
    .library(name: "CarbonDomain", targets: ["CarbonDomain"]),
    .library(name: "CarbonPluginKit", targets: ["CarbonPluginKit"]),
    .library(name: "CarbonPluginTesting", targets: ["CarbonPluginTesting"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0")
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

    // The Swift kit for module authors: the C entry, validation, export, charts, coding.
    .target(
      name: "CarbonPluginKit",
      dependencies: [
        "CarbonPluginABI",
        "CarbonDomain",
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      path: "Sources/CarbonPluginKit"
    ),

    // For a module's tests only, never linked into a plugin library: runs a module in process
    // through encoded bytes as the host does (`ModuleHarness`) and checks its examples.
    .target(
      name: "CarbonPluginTesting",
      dependencies: ["CarbonPluginKit", "CarbonDomain", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
      path: "Sources/CarbonPluginTesting"
    ),
  ]
)

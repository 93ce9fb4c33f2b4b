// swift-tools-version:6.1
// Crystalline: a GPT trainer for ordinary CPUs, written in Swift.
//
// Module layering (lower never imports higher; docs/ARCHITECTURE.md has the graph):
//   CCPUFeatures, CKernels (C) -> CrystallineCompute
//   CZlib (system zlib) -> CrystallineFormats -> CrystallineLattice, CrystallineTokenizers
//   Compute + Lattice -> CrystallineModel -> CrystallineInterop -> CrystallineInference
//   Formats + Tokenizers + Compute -> CrystallineData
//   Model + Data + Interop -> CrystallineTraining
//   Training + Inference -> CrystallineBenchmarks -> cllm
//   Formats -> CrystallineIngest -> CrystallineCrawl (+ CSQLite, the system SQLite) -> cllm
// Only CrystallineCompute imports the C kernels.
import PackageDescription

// Fast float math needs AVX2 + FMA code generation: without it SIMD8<Float>.addingProduct
// compiles to calls of fmaf and runs ~150x slower. x86-64-v3 = Haswell-class AVX2/FMA/F16C.
// On other architectures (aarch64) the portable default is already vectorised (NEON).
#if arch(x86_64)
let simdFlags: [String] = ["-Xcc", "-march=x86-64-v3"]
#else
let simdFlags: [String] = []
#endif
// Every target gets the SIMD flags; the kernel modules (whose loops are index-heavy and
// validated by their callers) also drop overflow/bounds traps in release builds.
let fast: [SwiftSetting] = [.unsafeFlags(simdFlags)]
let kernels: [SwiftSetting] = [.unsafeFlags(simdFlags + ["-Ounchecked"], .when(configuration: .release)),
                               .unsafeFlags(simdFlags, .when(configuration: .debug))]
// Swift 6 language mode (complete data-race checking) for every library module. The command
// line stays in Swift 5 mode: it uses C's `stdout`, a mutable global to Swift 6's checker.
let swift6: [SwiftSetting] = [.swiftLanguageMode(.v6)]
let cFast: [CSetting] = [.unsafeFlags(simdFlags.filter { $0 != "-Xcc" })]

let package = Package(
    name: "Crystalline",
    platforms: [.macOS(.v15)],  // Synchronization.Atomic
    products: [
        .executable(name: "cllm", targets: ["cllm"]),
        .library(name: "CrystallineModel", targets: ["CrystallineModel"]),
        .library(name: "CrystallineInference", targets: ["CrystallineInference"]),
        .library(name: "CrystallineTraining", targets: ["CrystallineTraining"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/attaswift/BigInt", from: "6.0.0"),
        // The server. Default traits off: no swift-configuration, no full-Foundation extras.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0", traits: []),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
    ],
    targets: [
        .target(name: "CCPUFeatures", cSettings: cFast),
        .target(name: "CKernels", cSettings: cFast),
        .target(name: "CrystallineCompute", dependencies: ["CCPUFeatures", "CKernels"],
                swiftSettings: kernels + swift6),
        // The system zlib, for deflate-compressed PNGs (zlib1g-dev).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "CrystallineFormats", dependencies: ["CZlib"], swiftSettings: swift6),
        .target(name: "CrystallineLattice", dependencies: ["CrystallineFormats", .product(name: "BigInt", package: "BigInt")],
                swiftSettings: fast + swift6),
        .target(name: "CrystallineTokenizers", dependencies: ["CrystallineFormats"], swiftSettings: fast + swift6),
        .target(name: "CrystallineModel", dependencies: ["CrystallineCompute", "CrystallineLattice"], swiftSettings: kernels + swift6),
        .target(name: "CrystallineInterop", dependencies: ["CrystallineModel", "CrystallineTokenizers", "CrystallineFormats", "CrystallineCompute"],
                swiftSettings: fast + swift6),
        .target(name: "CrystallineInference",
                dependencies: ["CrystallineInterop", "CrystallineModel", "CrystallineTokenizers", "CrystallineCompute"],
                swiftSettings: fast + swift6),
        // The default corpus travels with the binary (a copy of data/tinyshakespeare.txt beside
        // it, in the module's resource bundle), so `cllm train` works from any directory.
        .target(name: "CrystallineData", dependencies: ["CrystallineFormats", "CrystallineTokenizers", "CrystallineCompute"],
                resources: [.copy("Resources/tinyshakespeare.txt")], swiftSettings: fast + swift6),
        .target(name: "CrystallineTraining",
                dependencies: ["CrystallineModel", "CrystallineData", "CrystallineInterop", "CrystallineTokenizers", "CrystallineFormats",
                               "CrystallineCompute", "CrystallineLattice"],
                swiftSettings: fast + swift6),
        // Documents to text: HTML main text, PDF and OCR through poppler and tesseract, WARC files.
        .target(name: "CrystallineIngest", dependencies: ["CrystallineFormats"], swiftSettings: fast + swift6),
        // The system SQLite (libsqlite3-dev): the crawler's frontier and fetch log.
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // The polite crawler: robots.txt (RFC 9309), per-host scheduling, crash-safe state.
        .target(name: "CrystallineCrawl", dependencies: ["CrystallineIngest", "CrystallineFormats", "CSQLite"], swiftSettings: fast + swift6),
        // MPI, loaded at run time: building and testing need no MPI installed (docs/DISTRIBUTED.md).
        .target(name: "CMPILoader", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "CrystallineDistributed",
                dependencies: ["CMPILoader", "CrystallineTraining", "CrystallineCompute"],
                swiftSettings: fast + swift6),
        .target(name: "CrystallineBenchmarks",
                dependencies: ["CrystallineTraining", "CrystallineInference", "CrystallineModel", "CrystallineCompute"],
                swiftSettings: fast + swift6),
        .target(name: "CrystallineServer",
                dependencies: ["CrystallineInference", "CrystallineTraining", "CrystallineInterop", "CrystallineData",
                               "CrystallineLattice", "CrystallineModel", "CrystallineTokenizers", "CrystallineFormats",
                               .product(name: "Hummingbird", package: "hummingbird"),
                               .product(name: "HTTPTypes", package: "swift-http-types"),
                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
                resources: [.copy("Dashboard")],
                swiftSettings: fast + swift6),
        .executableTarget(name: "cllm",
                dependencies: ["CrystallineServer", "CrystallineBenchmarks", "CrystallineDistributed", "CrystallineCrawl", "CrystallineIngest", "CrystallineTraining", "CrystallineInference", "CrystallineInterop",
                               "CrystallineData", "CrystallineLattice", "CrystallineFormats", .product(name: "BigInt", package: "BigInt"),
                               .product(name: "ArgumentParser", package: "swift-argument-parser")],
                swiftSettings: fast),
        // Hostile input for every parser: the targets, seeds, mutator and runner, and the driver
        // that runs them (self-contained, or under libFuzzer with -DLIBFUZZER; scripts/fuzz.sh).
        .target(name: "CrystallineFuzzing",
                dependencies: ["CrystallineCrawl", "CrystallineIngest", "CrystallineTraining", "CrystallineData", "CrystallineInterop", "CrystallineModel", "CrystallineTokenizers",
                               "CrystallineFormats"],
                swiftSettings: fast + swift6),
        .executableTarget(name: "cllm-fuzz", dependencies: ["CrystallineFuzzing"], swiftSettings: swift6),
        // A program that uses the library with no CLI code: load a model, stream a completion.
        .executableTarget(name: "StreamCompletion", dependencies: ["CrystallineInference"], path: "Examples/StreamCompletion"),
        // Shared test helpers (the PyTorch reference fixture loader).
        .target(name: "TestSupport", dependencies: ["CrystallineModel", "CrystallineCompute"], path: "Tests/TestSupport"),
        .testTarget(name: "ComputeTests", dependencies: ["CrystallineCompute"]),
        .testTarget(name: "ModelTests", dependencies: ["CrystallineModel", "CrystallineLattice", "TestSupport"]),
        .testTarget(name: "TokenizerTests", dependencies: ["CrystallineTokenizers"]),
        .testTarget(name: "LatticeTests", dependencies: ["CrystallineLattice", "CrystallineFormats"]),
        // Counts heap allocations by standing in for malloc (Linux/glibc); tests only.
        .target(name: "CAllocationCounter", path: "Tests/CAllocationCounter"),
        .testTarget(name: "TrainingTests", dependencies: ["CrystallineTraining", "CrystallineData", "CrystallineInterop", "CrystallineLattice", "CrystallineCompute",
                                                          "CrystallineTokenizers", "CrystallineModel", "CrystallineFormats",
                                                          "TestSupport", "CAllocationCounter"]),
        .testTarget(name: "ServerTests", dependencies: ["CrystallineServer", "CrystallineFuzzing", "CrystallineTraining", "CrystallineInference", "CrystallineInterop",
                                                        "CrystallineModel", "CrystallineTokenizers",
                                                        .product(name: "HummingbirdTesting", package: "hummingbird")]),
        .testTarget(name: "DistributedTests", dependencies: ["cllm", "CrystallineDistributed", "CrystallineTraining", "CrystallineModel", "CrystallineFormats"]),
        .testTarget(name: "CLITests", dependencies: ["cllm", "CrystallineTraining", "CrystallineBenchmarks", "CrystallineInterop"]),
        .testTarget(name: "FuzzTests", dependencies: ["CrystallineFuzzing", "CrystallineTraining", "CrystallineInterop", "CrystallineModel",
                                                      "CrystallineFormats", "CrystallineTokenizers"]),
        .testTarget(name: "CorpusTests", dependencies: ["cllm", "CrystallineCrawl", "CrystallineIngest", "CrystallineFormats"],
                    resources: [.copy("Pages")]),
        .testTarget(name: "InferenceLibraryTests", dependencies: ["CrystallineInference", "CrystallineTraining", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)

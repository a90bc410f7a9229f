// swift-tools-version: 6.2
// The package layout is the architecture: see README.md, "Architecture".
import PackageDescription

/// Hot numeric code is built for the CPU that builds it, as llama.cpp's `GGML_NATIVE` does (AVX2
/// and FMA at least; AVX-512 where present: generation ran ~30% faster than with a Haswell
/// target on our AVX-512 machines). Without a target CPU, fused multiply-adds become libc calls
/// per lane. Binaries are therefore not portable to older CPUs: build where you run. Debug builds optimise these targets too
/// (keeping overflow checks): the tests run real models, which unoptimised code runs ~50x slower.
let fastMath: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-target-cpu", "native"], .when(configuration: .release)),
    .unsafeFlags(["-O", "-target-cpu", "native"], .when(configuration: .debug)),
]

let package = Package(
    name: "llava-plus",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "llava-plus", targets: ["llava-plus"]),
        .executable(name: "llava-plus-skills", targets: ["llava-plus-skills"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // C libraries from Debian, wrapped as Swift modules.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CSTBImage", pkgConfig: "stb", providers: [.apt(["libstb-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),

        // Numerics and file formats.
        .target(name: "Tensors", dependencies: ["CBLAS"], swiftSettings: fastMath),
        // Parsers of untrusted files keep Swift's overflow and bounds traps (no -Ounchecked).
        .target(name: "ModelFormats", dependencies: ["Tensors"]),
        .target(name: "Imaging", dependencies: ["CSTBImage", "Tensors"], swiftSettings: fastMath),
        .target(name: "Tokenizers", dependencies: ["ModelFormats"]),
        .target(name: "LanguageModels", dependencies: ["Tensors", "ModelFormats", "Tokenizers", "CBLAS"], swiftSettings: fastMath),
        .target(name: "VisionModels", dependencies: ["Tensors", "ModelFormats", "Imaging"], swiftSettings: fastMath),
        .target(name: "LLaVA", dependencies: ["VisionModels", "LanguageModels", "ModelFormats", "Tensors"], swiftSettings: fastMath),
        // Sentence embeddings (MiniLM, a BERT encoder) for phrase matching and text retrieval.
        .target(name: "TextEncoders", dependencies: ["Tensors", "ModelFormats", "Tokenizers", "CBLAS"], swiftSettings: fastMath),

        // HTTP/1.1 client and server on POSIX sockets (skills' HTTP transport, the OpenAI backend, serve).
        .target(name: "HTTP"),

        // Skills: manifests, the registry, parameter validation, transports, artifacts, records.
        // fork/exec with a process group, rlimits and namespaces, for subprocess skills.
        .target(name: "CProcess"),
        .target(name: "Skills", dependencies: ["ModelFormats", "ModelStore", "CProcess", "HTTP", .product(name: "Yams", package: "Yams")]),

        // The agent: tool-call codec, loop, transcripts, model backends.
        .target(name: "Agent", dependencies: ["Skills", "LLaVA", "LanguageModels", "Tokenizers", "Imaging", "Tensors", "HTTP"]),

        // An OpenAI-compatible chat-completions server for a local model (`llava-plus serve`).
        .target(name: "Server", dependencies: ["HTTP", "Agent", "Skills", "LLaVA", "LanguageModels", "Tokenizers", "Imaging"]),

        // The Swift built-in skills (tag, detect, retrieve) and their image index; run by the
        // `llava-plus-skills` worker that their manifests start.
        .target(name: "BuiltinSkills", dependencies: ["Skills", "VisionModels", "TextEncoders", "Imaging", "Tensors", "ModelStore", "ModelFormats", "CSQLite"], swiftSettings: fastMath),
        .executableTarget(name: "llava-plus-skills", dependencies: ["BuiltinSkills"]),

        // Installed assets: where they live and whether they are intact.
        .target(name: "ModelStore", dependencies: ["COpenSSL"]),

        // The command-line tool.
        .executableTarget(
            name: "llava-plus",
            dependencies: [
                "ModelStore", "Imaging", "ModelFormats", "LanguageModels", "VisionModels", "Tokenizers", "LLaVA", "Skills", "Agent",
                "BuiltinSkills", "Server", "HTTP", "Tensors",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Benchmarks (run with `swift run -c release NAME`; see BENCHMARKS.md).
        .executableTarget(
            name: "engine-bench",
            dependencies: ["LanguageModels", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: fastMath
        ),
        .executableTarget(
            name: "vision-bench",
            dependencies: ["VisionModels", "Imaging", "Tensors", "CBLAS", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: fastMath
        ),

        .executableTarget(
            name: "skills-bench",
            dependencies: ["Skills", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        .testTarget(name: "TensorsTests", dependencies: ["Tensors"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelFormatsTests", dependencies: ["ModelFormats", "ModelStore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelStoreTests", dependencies: ["ModelStore"]),
        .testTarget(name: "VisionModelsTests", dependencies: ["VisionModels", "ModelStore", "ModelFormats"], resources: [.copy("Fixtures")]),
        .testTarget(name: "LanguageModelsTests", dependencies: ["LanguageModels", "ModelStore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "AgentTests", dependencies: ["Agent", "Skills", "LLaVA", "LanguageModels", "Tokenizers", "ModelFormats", "ModelStore"]),
        .testTarget(name: "BuiltinSkillsTests", dependencies: ["Skills", "Imaging", "BuiltinSkills", "VisionModels", "TextEncoders", "ModelStore"], exclude: ["Fixtures"]),
        .testTarget(name: "TextEncodersTests", dependencies: ["TextEncoders", "Tokenizers", "ModelStore", "ModelFormats", "Tensors"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ServerTests", dependencies: ["Server", "HTTP", "Agent", "Skills", "LLaVA", "LanguageModels", "Tokenizers", "ModelStore"]),
        .testTarget(name: "SkillsTests", dependencies: ["Skills", "ModelStore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "LLaVATests", dependencies: ["LLaVA", "LanguageModels", "Tensors", "ModelStore", "Imaging", "Tokenizers"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "ModelStore"], resources: [.copy("Fixtures")]),
    ]
)

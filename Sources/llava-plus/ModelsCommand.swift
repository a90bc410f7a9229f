import ArgumentParser
import Foundation
import LLaVA
import ModelStore
import VisionModels

/// `llava-plus models ...`: the installed weights and data.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "Show and check the installed weights and data (the model store).",
        subcommands: [List.self, Verify.self, Info.self],
        defaultSubcommand: List.self
    )

    struct StoreOptions: ParsableArguments {
        @Option(name: .long, help: "The model store's folder (default: $LLAVA_PLUS_MODELS, else the checkout's models/).")
        var store: String?

        func open() throws -> ModelStore {
            if let store { return try ModelStore(root: URL(fileURLWithPath: store)) }
            return try ModelStore.locate()
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List installed assets with size, SHA-256 status and path.")

        @OptionGroup var options: StoreOptions

        func run() throws {
            let store = try options.open()
            print("Model store: \(store.root.path)")
            var rows = [["NAME", "KIND", "SIZE", "FILES", "SHA256", "PATH"]]
            for name in store.assetNames {
                let asset = try store.asset(name)
                let check = try store.check(name)
                let path = store.folder(of: name).appendingPathComponent(asset.main).standardizedFileURL.path
                rows.append([name, asset.kind, formatBytes(check.size), String(asset.files.count),
                             check.isIntact ? "verified" : "DAMAGED", path])
            }
            print(table(rows))
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-hash every installed file; exit 1 and name each damaged file if any differ.")

        @OptionGroup var options: StoreOptions

        @Argument(help: "Assets to check (default: all).")
        var names: [String] = []

        func run() throws {
            let store = try options.open()
            let started = Date()
            var damaged: [String] = []
            var bytes = 0
            for name in names.isEmpty ? store.assetNames : names {
                let check = try store.check(name)
                bytes += check.size
                if check.isIntact {
                    print("ok       \(name) (\(store.record.assets[name]!.files.count) files, \(formatBytes(check.size)))")
                } else {
                    damaged.append(name)
                    print("DAMAGED  \(name)")
                    for problem in check.problems { print("         \(problem)") }
                }
            }
            let seconds = Date().timeIntervalSince(started)
            print(String(format: "checked %@ in %.1f s", formatBytes(bytes), seconds))
            if !damaged.isEmpty {
                print("\(damaged.count) damaged asset(s): \(damaged.joined(separator: ", ")); run scripts/setup.sh to repair")
                throw ExitCode(1)
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show an installed asset's details, or the parts of the embedded default \(MultimodalModel.defaultName).")

        @OptionGroup var options: StoreOptions

        @Argument(help: "An asset name, or \(MultimodalModel.defaultName).")
        var name: String

        func run() throws {
            let store = try options.open()
            if name == MultimodalModel.defaultName { return try describeTiny(store) }
            let asset = try store.asset(name)
            let check = try store.check(name)
            let s = asset.source
            print("\(name): \(asset.title)")
            print(table([
                ["kind", asset.kind],
                ["source", "\(s.registry) \(s.package) \(s.version) (\(s.file), sha256 \(s.sha256))"],
                ["installed", asset.installed],
                ["path", store.folder(of: name).appendingPathComponent(asset.main).standardizedFileURL.path],
                ["files", "\(asset.files.count), \(formatBytes(check.size)), \(check.isIntact ? "verified" : "DAMAGED")"],
            ]))
            for problem in check.problems { print("  \(problem)") }
        }

        /// The embedded default's parts, read from the loaded model itself.
        private func describeTiny(_ store: ModelStore) throws {
            let (languageAsset, visionAsset) = (ModelResolution.defaultLanguageModel, MultimodalModel.tinyVisionAsset)
            let model = try LLaVAModel.tiny(languageModel: try store.url(of: languageAsset),
                                            visionWeights: try store.url(of: visionAsset), threads: 1)
            let language = model.language.configuration
            let widths = model.projector.widths.map(String.init).joined(separator: "->")
            print("\(MultimodalModel.defaultName): the embedded default LLaVA model, assembled from installed assets")
            print(table([
                ["language model", "\(languageAsset) (\(try store.asset(languageAsset).title)): \(language.layerCount) layers, width \(language.hiddenSize), vocabulary \(language.vocabularySize)"],
                ["vision encoder", "\(visionAsset) (\(try store.asset(visionAsset).title)): \(model.vision.tokenCount) visual tokens of width \(model.vision.featureWidth) per image"],
                ["projector", "\(model.projector.kind.llavaName) \(widths), " + (LLaVAModel.tinyProjectorIsTrained
                    ? "trained" : "UNTRAINED (default initialisation from a fixed seed): the model cannot see images yet")],
                ["image token", "<image> in the prompt (id \(model.imageToken))"],
            ]))
        }
    }
}

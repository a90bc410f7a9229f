import ArgumentParser
import Foundation
import ModelStore

/// `llava-plus models ...`: the installed weights and data.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "Show and check the installed weights and data (the model store).",
        subcommands: [List.self, Verify.self],
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
}

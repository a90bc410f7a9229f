import Foundation
import ModelStore

/// Where `--model` points: an installed asset's name, a GGUF file or a model directory.
enum ModelResolution {
    /// The embedded default language model.
    static let defaultLanguageModel = "smollm2-135m-instruct"

    /// A path that exists is used as it is; anything else is looked up in the model store.
    static func url(for reference: String?, default name: String) throws -> URL {
        if let reference, FileManager.default.fileExists(atPath: reference) {
            return URL(fileURLWithPath: reference)
        }
        return try ModelStore.locate().url(of: reference ?? name)
    }
}

/// Threads to use when none are asked for: every core.
func defaultThreadCount() -> Int { ProcessInfo.processInfo.activeProcessorCount }

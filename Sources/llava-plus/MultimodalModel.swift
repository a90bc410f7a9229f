import Foundation
import Imaging
import LanguageModels
import LLaVA
import ModelFormats
import ModelStore
import Tokenizers

/// A LLaVA model with what it takes to talk to it: tokenizer, chat template, a session.
struct MultimodalModel {
    /// The name of the embedded default, assembled from installed assets.
    static let defaultName = "llava-plus-tiny"

    let llava: LLaVAModel
    let generator: TextGenerator
    let name: String

    /// `--model` (with `--mmproj` for llama.cpp's pair of files, a llava-hf directory, or the
    /// embedded default) loaded for questions about images.
    init(model reference: String?, mmproj: String?, threads: Int, context: Int) throws {
        if let mmproj {
            let gguf = try ModelResolution.url(for: reference, default: ModelResolution.defaultLanguageModel)
            llava = try LLaVAModel(gguf: gguf, mmproj: URL(fileURLWithPath: mmproj), threads: threads)
            let file = try GGUFFile(url: gguf)
            generator = TextGenerator(model: llava.language, tokenizer: try BPETokenizer(gguf: file),
                                      template: ChatTemplate(gguf: file) ?? .chatML, contextLength: context)
            name = gguf.lastPathComponent
        } else if let reference, reference != Self.defaultName {
            let directory = URL(fileURLWithPath: reference)
            llava = try LLaVAModel(huggingFace: directory, threads: threads)
            generator = TextGenerator(model: llava.language,
                                      tokenizer: try BPETokenizer(tokenizerJSONAt: directory.appendingPathComponent("tokenizer.json")),
                                      template: .llavaV1, contextLength: context)
            name = directory.lastPathComponent
        } else {
            let store = try ModelStore.locate()
            let gguf = try store.url(of: ModelResolution.defaultLanguageModel)
            llava = try LLaVAModel.tiny(languageModel: gguf, visionWeights: try store.url(of: "efficientnet-lite0"), threads: threads)
            let file = try GGUFFile(url: gguf)
            generator = TextGenerator(model: llava.language, tokenizer: try BPETokenizer(gguf: file),
                                      template: ChatTemplate(gguf: file) ?? .chatML, contextLength: context)
            name = Self.defaultName
            if !LLaVAModel.tinyProjectorIsTrained {
                FileHandle.standardError.write(Data("note: \(name)'s projector is not trained yet; the model cannot see the image.\n".utf8))
            }
        }
    }

    /// The prompt for `messages` whose `<image>` placeholders (added before the last user
    /// message when it has none) stand for `images`, and the time spent encoding the images.
    func inputs(for messages: [ChatMessage], images: [RGBImage]) throws -> (inputs: [LlamaInput], seconds: Double) {
        var messages = messages
        if let last = messages.indices.last, !messages.contains(where: { $0.content.contains("<image>") }) {
            messages[last].content = String(repeating: "<image>\n", count: images.count) + messages[last].content
        }
        let text = generator.template.render(messages, addGenerationPrompt: true)
        let tokens = generator.tokenizer.encode(text, addSpecialTokens: true, imagePlaceholder: "<image>",
                                                imageTokenId: llava.imageToken)
        let start = ContinuousClock.now
        let inputs = try llava.inputs(tokens: tokens, images: images.map(llava.vision.preprocess))
        let elapsed = ContinuousClock.now - start
        return (inputs, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}

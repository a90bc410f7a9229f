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
    /// The asset that gives the embedded default its vision encoder.
    static let tinyVisionAsset = "efficientnet-lite0"

    let llava: LLaVAModel
    let generator: TextGenerator
    let name: String

    /// `--model` (with `--mmproj` for llama.cpp's pair of files, a llava-hf or original LLaVA
    /// directory, or the embedded default) loaded for questions about images; `visionTower`
    /// overrides the CLIP tower directory an original LLaVA checkpoint names.
    init(model reference: String?, mmproj: String?, visionTower: String?, threads: Int, context: Int) throws {
        if let mmproj {
            let gguf = try ModelResolution.url(for: reference, default: ModelResolution.defaultLanguageModel)
            llava = try LLaVAModel(gguf: gguf, mmproj: URL(fileURLWithPath: mmproj), threads: threads)
            let file = try GGUFFile(url: gguf)
            generator = TextGenerator(model: llava.language, tokenizer: try makeTokenizer(gguf: file),
                                      template: ChatTemplate(gguf: file) ?? .chatML, contextLength: context)
            name = gguf.lastPathComponent
        } else if let reference, reference != Self.defaultName {
            let directory = URL(fileURLWithPath: reference)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: reference, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw InputError("--model \(reference): a LLaVA model is a checkpoint directory, \(Self.defaultName), or a language model GGUF with --mmproj")
            }
            // Original LLaVA checkpoints (Vicuna, LLaMA-2) ship SentencePiece's tokenizer.model;
            // llava-hf ones a byte-level BPE tokenizer.json.
            let sentencePiece = directory.appendingPathComponent("tokenizer.model")
            let fast = directory.appendingPathComponent("tokenizer.json")
            let tokenizer: any Tokenizer
            if FileManager.default.fileExists(atPath: sentencePiece.path) {
                tokenizer = try SentencePieceTokenizer(model: try SentencePieceModel(contentsOf: sentencePiece))
            } else if FileManager.default.fileExists(atPath: fast.path) {
                tokenizer = try BPETokenizer(tokenizerJSONAt: fast)
            } else {
                throw InputError("--model \(reference): no tokenizer.model (SentencePiece) or tokenizer.json beside the checkpoint")
            }
            llava = try LLaVAModel(directory: directory, visionTower: visionTower.map { URL(fileURLWithPath: $0) },
                                   threads: threads)
            generator = TextGenerator(model: llava.language, tokenizer: tokenizer, template: .llavaV1, contextLength: context)
            name = directory.lastPathComponent
        } else {
            let store = try ModelStore.locate()
            let gguf = try store.url(of: ModelResolution.defaultLanguageModel)
            llava = try LLaVAModel.tiny(languageModel: gguf, visionWeights: try store.url(of: Self.tinyVisionAsset), threads: threads)
            let file = try GGUFFile(url: gguf)
            generator = TextGenerator(model: llava.language, tokenizer: try makeTokenizer(gguf: file),
                                      template: ChatTemplate(gguf: file) ?? .chatML, contextLength: context)
            name = Self.defaultName
            if !LLaVAModel.tinyProjectorIsTrained {
                FileHandle.standardError.write(Data("note: \(name)'s projector is not trained yet; the model cannot see the image.\n".utf8))
            }
        }
    }

    /// Decodes the image files named by `--image`, before any model is loaded.
    static func readImages(_ paths: [String]) throws -> [RGBImage] {
        try paths.map { path in
            do {
                return try RGBImage(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw InputError("--image: \(error)")
            }
        }
    }

    /// Encodes the images, once per conversation, and reports the time spent on standard error.
    func encode(_ images: [RGBImage]) -> [[[Float]]] {
        let start = ContinuousClock.now
        let embeddings = images.map { llava.imageEmbeddings(llava.vision.preprocess($0)) }
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        FileHandle.standardError.write(Data(String(format: "[%@: %d image(s) encoded in %.0f ms]\n", name, images.count, milliseconds).utf8))
        return embeddings
    }

    /// `messages` with one `<image>` placeholder per image put before the last message's text,
    /// unless some message already places them.
    static func placingImages(_ count: Int, in messages: [ChatMessage]) -> [ChatMessage] {
        var messages = messages
        if count > 0, let last = messages.indices.last, !messages.contains(where: { $0.content.contains("<image>") }) {
            messages[last].content = String(repeating: "<image>\n", count: count) + messages[last].content
        }
        return messages
    }

    /// Answers the conversation whose `<image>` placeholders stand for `images` (from
    /// ``encode(_:)``): streams the text, then prints the timings on standard error.
    func answer(_ messages: [ChatMessage], images: [[[Float]]], options: LanguageModelOptions) throws -> String {
        let text = generator.template.render(messages, addGenerationPrompt: true)
        let tokens = generator.tokenizer.encode(text, addSpecialTokens: true, imagePlaceholder: "<image>",
                                                imageTokenId: llava.imageToken)
        let (answer, statistics) = try generator.generate(inputs: try llava.inputs(tokens: tokens, imageEmbeddings: images),
                                                          parameters: options.sampling, maxTokens: options.maxTokens,
                                                          onText: stream)
        stream("\n")
        reportTimings(statistics)
        return answer
    }
}

/// A file named on the command line that is not what the option takes (printed without the
/// usage text a `ValidationError` brings, as the arguments themselves were well-formed).
struct InputError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

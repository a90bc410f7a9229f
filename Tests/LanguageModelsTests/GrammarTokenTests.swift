import Foundation
import ModelStore
import Tensors
import Testing
import Tokenizers
@testable import LanguageModels

/// Token-level constraints: random walks over allowed tokens always end in valid documents (on
/// a toy vocabulary and on SmolLM2's), the per-token cost, and greedy decoding of the real model
/// under a tool-call schema.
@Suite(.serialized) struct GrammarTokenTests {
    static let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The agent's tool-call shape with two skills, each with its own parameters.
    static func toolCallSchema(textLength: Int? = nil, maxActions: Int = 2) -> JSONSchema {
        let detect = JSONSchema.object([.init("caption", .string(maxLength: textLength)),
                                        .init("max_boxes", .integer(minimum: 1, maximum: 20), required: false)])
        let ocr = JSONSchema.object([.init("language", .stringEnum(["en", "fr"]), required: false),
                                     .init("threshold", .decimal(minimum: 0, maximum: 1), required: false)])
        return .toolCall(skills: [("detect", detect), ("ocr", ocr)], textLength: textLength, maxActions: maxActions)
    }

    /// Everything else the recogniser supports, bounded so that every random walk ends.
    static let mixedSchema = JSONSchema.object([
        .init("flag", .boolean, required: false),
        .init("count", .integer(minimum: -5, maximum: 250)),
        .init("ratio", .number, required: false),
        .init("offset", .decimal(minimum: -2.5, maximum: 7.25)),
        .init("weight", .decimal(minimum: 3, maximum: nil), required: false),
        .init("tags", .array(items: .anyOf([.string(maxLength: 6), .null]), minItems: 1, maxItems: 3)),
        .init("kind", .oneOfValues([.string("é😀"), .integer(7), .bool(false)])),
        .init("note", .string(minLength: 2, maxLength: 8), required: false),
    ])

    // MARK: Toy vocabulary

    /// Single bytes (every ASCII character and some UTF-8 fragments) plus longer pieces that cut
    /// across JSON structure, as BPE tokens do. Token 0 is the end token.
    static let toyVocabulary: [[UInt8]] = {
        var tokens: [[UInt8]] = [[]]
        for b in 0x20..<0x7F { tokens.append([UInt8(b)]) }
        tokens += [[0x0A], [0xC3], [0xA9], [0xF0, 0x9F], [0x98, 0x80], Array("é".utf8), Array("😀".utf8), [0xE2, 0x82, 0xAC]]
        for piece in ["{\"", "\":", "\": ", "\", \"", "\"}", "}]", "\"]", "[{\"", "true", "false", "null", "-1", "12", "0.", "e+",
                      "\\u00", "\\n", "API_name", "\": \"", "detect", "ocr", "\",", "API_params", " {", "}}", "\"é😀\"", "en\"", "7,"] {
            tokens.append(Array(piece.utf8))
        }
        return tokens
    }()

    @Test(arguments: [("tool call", toolCallSchema(textLength: 12)), ("mixed", mixedSchema)])
    func randomWalksOnAToyVocabularyEndValid(name: String, schema: JSONSchema) throws {
        let trie = TokenTrie(tokenBytes: Self.toyVocabulary)
        let constraint = JSONConstraint(schema: schema, trie: trie, endTokens: [0])
        var random = SplitMix64(seed: 42)
        for _ in 0..<100 {
            let text = try walk(constraint, random: &random, exact: true)
            try expectValid(text, schema)
        }
    }

    /// An end token with ordinary bytes (a template stopping on `#`) is never allowed as text.
    @Test func endTokensAreOnlyAllowedAtTheEnd() throws {
        let hash = try #require(Self.toyVocabulary.firstIndex(of: [0x23]))
        let quote = try #require(Self.toyVocabulary.firstIndex(of: [0x22]))
        let a = try #require(Self.toyVocabulary.firstIndex(of: [0x61]))
        let constraint = JSONConstraint(schema: .string, trie: TokenTrie(tokenBytes: Self.toyVocabulary), endTokens: [hash])
        #expect(constraint.accept(quote) && !constraint.allowedTokens().contains(hash) && !constraint.accept(hash))
        #expect(constraint.allowedTokens().contains(a) && constraint.accept(a) && constraint.accept(quote))
        #expect(constraint.allowedTokens().ids == [hash] && constraint.accept(hash))
    }

    // MARK: SmolLM2's vocabulary

    static let smolTokenizer = Result { try BPETokenizer(ggufAt: ModelStore.locate(searchFrom: [checkout]).url(of: "smollm2-135m-instruct")) }

    @Test func randomWalksOnTheSmolLM2VocabularyEndValid() throws {
        let tokenizer = try Self.smolTokenizer.get()
        let clock = ContinuousClock.now
        let trie = TokenTrie(tokenizer: tokenizer)
        print("trie of \(tokenizer.vocabularySize) tokens: \(trie.nodeCount) nodes, longest token \(trie.longestToken) bytes, built in \(clock.duration(to: .now))")
        let end = try #require(tokenizer.eosTokenId)
        var random = SplitMix64(seed: 7)
        for schema in [Self.toolCallSchema(textLength: 10), Self.mixedSchema] {
            let constraint = JSONConstraint(schema: schema, trie: trie, endTokens: [end])
            for _ in 0..<10 {
                let text = try walk(constraint, random: &random)
                try expectValid(text, schema)
            }
        }
    }

    /// Per-token cost of the mask on the real vocabulary, along a fixed valid tool call encoded
    /// as the tokenizer would: uncached (trie walk every token) and cached.
    @Test func maskCostPerToken() throws {
        let tokenizer = try Self.smolTokenizer.get()
        let trie = TokenTrie(tokenizer: tokenizer)
        let document = #"{"thoughts": "The user wants to find the cat in the image, so I will run the detector.", "actions": [{"API_name": "detect", "API_params": {"caption": "cat"}}], "value": "I will detect the cat in the image."}"#
        let tokens = tokenizer.encode(document, addSpecialTokens: false)
        for (label, schema) in [("unbounded strings", Self.toolCallSchema()), ("maxLength 100", Self.toolCallSchema(textLength: 100))] {
            for cached in [false, true] {
                let constraint = JSONConstraint(grammar: JSONGrammar(schema: schema), trie: trie, endTokens: [tokenizer.eosTokenId!], cachesMasks: cached)
                let zeros = [Float](repeating: 0, count: tokenizer.vocabularySize)
                var logits = zeros
                let passes = cached ? 2 : 1  // the second pass shows a warm cache (a later call with the same schema)
                let clock = ContinuousClock.now
                for _ in 0..<passes {
                    constraint.reset()
                    for token in tokens {
                        logits = zeros
                        constraint.mask(&logits)
                        #expect(logits[token] == 0, "token \(token) \(tokenizer.decode([token])) masked")
                        #expect(constraint.accept(token))
                    }
                    logits = zeros
                    constraint.mask(&logits)
                    #expect(constraint.isComplete && logits[tokenizer.eosTokenId!] == 0)
                }
                let perToken = Double((clock.duration(to: .now) / (passes * (tokens.count + 1))).components.attoseconds) / 1e15
                print(String(format: "mask, %@, %@: %.2f ms/token over %d tokens (cache hits %d, misses %d)", label,
                             cached ? "cached" : "uncached", perToken, tokens.count + 1, constraint.cacheHits, constraint.cacheMisses))
            }
        }
    }

    // MARK: The real model

    /// Greedy decoding of SmolLM2 under the tool-call schema gives a call that parses and
    /// validates, and stops on its own once the document is complete.
    @Test func smolLM2WritesAValidToolCall() throws {
        let url = try ModelStore.locate(searchFrom: [Self.checkout]).url(of: "smollm2-135m-instruct")
        let generator = try TextGenerator(contentsOf: url, threads: 2, contextLength: 512)
        let schema = Self.toolCallSchema(textLength: 80, maxActions: 1)  // one action: keeps the test short
        let constraint = JSONConstraint(schema: schema, trie: TokenTrie(tokenizer: generator.tokenizer), endTokens: generator.stopTokens)
        let system = """
            You are an assistant that uses tools to look at images. Reply with JSON only: \
            {"thoughts": "...", "actions": [{"API_name": "detect" or "ocr", "API_params": {...}}], "value": "..."}
            """
        let prompt = generator.promptTokens(for: [.system(system), .user("Find the cat in the image.")])
        let clock = ContinuousClock.now
        let (text, statistics) = try generator.generate(prompt, maxTokens: 200, constraint: constraint)
        print("constrained output (\(statistics.generatedTokens) tokens, \(clock.duration(to: .now))): \(text)")
        #expect(statistics.finishReason == "stop")
        print(String(format: "prompt %.2f s; constrained generation %.1f ms/token; mask cache hits %d, misses %d",
                     statistics.promptSeconds, 1000 * statistics.generateSeconds / Double(statistics.generatedTokens),
                     constraint.cacheHits, constraint.cacheMisses))
        try expectValid(text, schema)
        let call = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        let actions = try #require(call?["actions"] as? [[String: Any]])
        for action in actions { #expect(["detect", "ocr"].contains(action["API_name"] as? String)) }
    }

    // MARK: Helpers

    /// Chooses random allowed tokens until the end token is chosen (taken at once when it is
    /// the only choice, otherwise half the time), returning the text.
    /// With `exact`, also checks that the mask holds exactly the tokens whose bytes the grammar
    /// accepts (the trie walk and its string fast path against byte-by-byte stepping).
    private func walk(_ constraint: JSONConstraint, random: inout SplitMix64, limit: Int = 600, exact: Bool = false) throws -> String {
        constraint.reset()
        for _ in 0..<limit {
            let mask = constraint.allowedTokens()
            if exact {
                let wrong = (0..<constraint.trie.vocabularySize).filter { token in
                    let bytes = constraint.trie.tokenBytes[token]
                    let accepted = !bytes.isEmpty && constraint.grammar.advance(constraint.state, bytes: bytes) != nil
                    return !constraint.endTokens.contains(token) && mask.contains(token) != accepted
                }
                #expect(wrong.isEmpty, "tokens \(wrong) after \(String(decoding: constraint.text, as: UTF8.self))")
                #expect(constraint.endTokens.allSatisfy { mask.contains($0) == constraint.isComplete })
            }
            let allowed = mask.ids
            try #require(!allowed.isEmpty, "dead end after \(String(decoding: constraint.text, as: UTF8.self))")
            let ends = allowed.filter { constraint.endTokens.contains($0) }
            let others = allowed.filter { !constraint.endTokens.contains($0) }
            if !ends.isEmpty && (others.isEmpty || random.nextUnit() < 0.5) {
                #expect(constraint.accept(ends[0]) && constraint.isComplete)
                return String(decoding: constraint.text, as: UTF8.self)
            }
            let token = others[Int(random.next() % UInt64(others.count))]
            try #require(constraint.accept(token))
        }
        Issue.record("no end after \(limit) tokens: \(String(decoding: constraint.text, as: UTF8.self))")
        return String(decoding: constraint.text, as: UTF8.self)
    }
}

/// Parses `text` with Foundation and checks it against `schema` (a small independent validator).
func expectValid(_ text: String, _ schema: JSONSchema, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let value = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    #expect(validates(value, schema), "invalid: \(text)", sourceLocation: sourceLocation)
}

func validates(_ value: Any, _ schema: JSONSchema) -> Bool {
    func isBool(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }
    switch schema {
    case .any: return true
    case .object(let properties):
        guard let object = value as? [String: Any] else { return false }
        let names = Set(properties.map(\.name))
        return object.keys.allSatisfy(names.contains) && properties.allSatisfy { p in
            object[p.name].map { validates($0, p.schema) } ?? !p.isRequired
        }
    case .array(let items, let minItems, let maxItems):
        guard let array = value as? [Any] else { return false }
        return array.count >= minItems && array.count <= (maxItems ?? .max) && array.allSatisfy { validates($0, items) }
    case .string(let minLength, let maxLength):
        guard let s = value as? String else { return false }
        return s.unicodeScalars.count >= minLength && s.unicodeScalars.count <= (maxLength ?? .max)
    case .integer(let minimum, let maximum):
        guard let n = value as? NSNumber, !isBool(n), n.doubleValue == n.doubleValue.rounded() else { return false }
        return n.doubleValue >= Double(minimum ?? .min) && n.doubleValue <= Double(maximum ?? .max)
    case .number:
        guard let n = value as? NSNumber else { return false }
        return !isBool(n)
    case .decimal(let minimum, let maximum):
        guard let n = value as? NSNumber, !isBool(n) else { return false }
        return n.doubleValue >= (minimum ?? -.infinity) - 1e-9 && n.doubleValue <= (maximum ?? .infinity) + 1e-9
    case .boolean:
        guard let n = value as? NSNumber else { return false }
        return isBool(n)
    case .null: return value is NSNull
    case .oneOfValues(let values):
        return values.contains { scalar in
            switch scalar {
            case .null: value is NSNull
            case .string(let s): (value as? String) == s
            case .bool(let b): (value as? NSNumber).map { isBool($0) && $0.boolValue == b } ?? false
            case .integer(let i): (value as? NSNumber).map { !isBool($0) && $0.doubleValue == Double(i) } ?? false
            case .number(let d): (value as? NSNumber).map { !isBool($0) && $0.doubleValue == d } ?? false
            }
        }
    case .anyOf(let alternatives): return alternatives.contains { validates(value, $0) }
    }
}

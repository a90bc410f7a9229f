/// Constrains generation to JSON documents valid against a schema.
///
/// Each step asks which tokens keep the text a valid prefix: the ``TokenTrie`` is walked together
/// with the ``JSONGrammar`` state. The answer depends only on the state, and states recur (inside
/// an unbounded string every ordinary character leads back to the same state; each new array
/// item or object starts the same way), so masks are cached per state. The end tokens (the
/// tokenizer's end of sequence, the template's stop tokens) are allowed only when the document
/// is complete, and then also the only choice when nothing else may follow.
///
/// One instance follows one generation; call ``reset()`` to start again (the cache is kept, as it
/// depends only on the grammar and vocabulary). Not thread-safe.
public final class JSONConstraint: TokenConstraint {
    public let grammar: JSONGrammar
    public let trie: TokenTrie
    public let endTokens: Set<Int>
    /// Whether masks are cached per state (off only to measure what the cache saves).
    public var cachesMasks: Bool
    public private(set) var state: GrammarState
    /// The bytes accepted so far.
    public private(set) var text: [UInt8] = []
    /// Cache lookups that found / did not find a mask.
    public private(set) var cacheHits = 0, cacheMisses = 0
    /// Most masks kept; beyond it the cache is cleared (bounded strings and integers make many
    /// one-off states).
    public var cacheLimit = 4096
    private var cache: [GrammarState: TokenMask] = [:]

    public init(grammar: JSONGrammar, trie: TokenTrie, endTokens: Set<Int>, cachesMasks: Bool = true) {
        self.grammar = grammar
        self.trie = trie
        self.endTokens = endTokens
        self.cachesMasks = cachesMasks
        state = grammar.initialState
    }

    public convenience init(schema: JSONSchema, trie: TokenTrie, endTokens: Set<Int>) {
        self.init(grammar: JSONGrammar(schema: schema), trie: trie, endTokens: endTokens)
    }

    /// Back to the start of a document.
    public func reset() {
        state = grammar.initialState
        text = []
    }

    /// The tokens allowed next.
    public func allowedTokens() -> TokenMask {
        var mask: TokenMask
        let key = cachesMasks ? cacheKey(state) : state
        if cachesMasks, let known = cache[key] {
            cacheHits += 1
            mask = known
        } else {
            cacheMisses += 1
            mask = trie.allowedTokens(grammar, from: state)
            // End tokens end generation whatever their bytes (a template may stop on an ordinary
            // token such as `###`), so they are never allowed as text, only as the end.
            for token in endTokens where token >= 0 && token < mask.count {
                if state.isComplete { mask.insert(token) } else { mask.remove(token) }
            }
            if cachesMasks {
                if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
                cache[key] = mask
            }
        }
        return mask
    }

    /// The state with what cannot change the mask left out, so that more states share a mask.
    /// A bounded string's length matters only near its bounds: once its minimum is reached and
    /// even the longest token cannot reach its maximum, every length allows the same tokens.
    /// (Strings are only ever on top of a stack: nothing is pushed above them.)
    private func cacheKey(_ state: GrammarState) -> GrammarState {
        var key = state
        for i in key.stacks.indices {
            guard let top = key.stacks[i].last,
                  case .string(let minLength, let maxLength) = grammar.rules[Int(top.rule)],
                  top.value >= Int64(minLength), top.value + Int64(trie.longestToken) < Int64(maxLength ?? .max) else { continue }
            key.stacks[i][key.stacks[i].count - 1].value = -1
        }
        return key
    }

    public func mask(_ logits: inout [Float]) {
        allowedTokens().apply(to: &logits)
    }

    @discardableResult
    public func accept(_ token: Int) -> Bool {
        if endTokens.contains(token) { return state.isComplete }
        guard token >= 0, token < trie.vocabularySize, !trie.tokenBytes[token].isEmpty,
              let next = grammar.advance(state, bytes: trie.tokenBytes[token]) else { return false }
        state = next
        text += trie.tokenBytes[token]
        return true
    }

    public var isComplete: Bool { state.isComplete }
}

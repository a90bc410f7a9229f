import LanguageModels
import Tokenizers

/// A grammar constraint that also pushes the model to finish: among what the grammar allows,
/// tokens that start with a quote win, then tokens that start with a closing bracket, so that
/// an open string closes first (inside a string a bracket is just a character) and then the
/// lists and objects, and the JSON ends within a few tokens.
///
/// Used after a constrained turn ran out of tokens (small models repeat themselves inside a
/// string): the turn is continued under this constraint instead of being lost as unreadable.
final class ClosingConstraint: TokenConstraint {
    /// The tokens that get a bonus, found once per tokenizer.
    struct Closers: Sendable {
        /// Tokens whose text starts with `"`.
        var quotes: [Int]
        /// Tokens whose text starts with `]` or `}`.
        var brackets: [Int]

        init(quotes: [Int], brackets: [Int]) {
            (self.quotes, self.brackets) = (quotes, brackets)
        }

        init(of tokenizer: any Tokenizer) {
            (quotes, brackets) = ([], [])
            for id in 0..<tokenizer.vocabularySize {
                switch tokenizer.bytes(forToken: id).first {
                case UInt8(ascii: "\"")?: quotes.append(id)
                case UInt8(ascii: "]")?, UInt8(ascii: "}")?: brackets.append(id)
                default: break
                }
            }
        }
    }

    private let base: any TokenConstraint
    let closers: Closers
    /// Larger than any logit gap a model produces: an allowed closer always wins, and an
    /// allowed quote wins over an allowed bracket. (Outside strings the grammar allows a quote
    /// only where one must come anyway, to open a required key or value.)
    private static let bracketBonus: Float = 100
    private static let quoteBonus: Float = 200

    init(_ base: any TokenConstraint, closers: Closers) {
        (self.base, self.closers) = (base, closers)
    }

    func mask(_ logits: inout [Float]) {
        base.mask(&logits)
        for token in closers.brackets where logits[token].isFinite { logits[token] += Self.bracketBonus }
        for token in closers.quotes where logits[token].isFinite { logits[token] += Self.quoteBonus }
    }

    func accept(_ token: Int) -> Bool { base.accept(token) }

    var isComplete: Bool { base.isComplete }
}

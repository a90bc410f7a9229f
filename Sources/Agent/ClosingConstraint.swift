import LanguageModels
import Tokenizers

/// A grammar constraint that also pushes the model to finish: tokens that start with a closing
/// quote or bracket get a large bonus, so that, among what the grammar allows, strings and
/// lists close and the JSON ends within a few tokens.
///
/// Used after a constrained turn ran out of tokens (small models repeat themselves inside a
/// string): the turn is continued under this constraint instead of being lost as unreadable.
final class ClosingConstraint: TokenConstraint {
    private let base: any TokenConstraint
    let closers: [Int]
    /// Larger than any logit gap a model produces: an allowed closer always wins.
    private static let bonus: Float = 100

    init(_ base: any TokenConstraint, closers: [Int]) {
        (self.base, self.closers) = (base, closers)
    }

    /// Tokens whose text starts with `"`, `]` or `}`.
    static func closingTokens(of tokenizer: any Tokenizer) -> [Int] {
        let starts: Set<UInt8> = [UInt8(ascii: "\""), UInt8(ascii: "]"), UInt8(ascii: "}")]
        return (0..<tokenizer.vocabularySize).filter { id in
            tokenizer.bytes(forToken: id).first.map(starts.contains) ?? false
        }
    }

    func mask(_ logits: inout [Float]) {
        base.mask(&logits)
        for token in closers where logits[token].isFinite { logits[token] += Self.bonus }
    }

    func accept(_ token: Int) -> Bool { base.accept(token) }

    var isComplete: Bool { base.isComplete }
}

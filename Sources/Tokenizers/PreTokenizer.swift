/// How text is cut into pieces ("words") before BPE merges run inside each piece.
///
/// The cases mirror Hugging Face `tokenizers` pre-tokenizers of the same names, and a
/// `.sequence` applies its stages in order, each to every piece the previous stage produced
/// (a stage never sees across a boundary that an earlier stage made).
public indirect enum PreTokenizer: Sendable, Hashable {
    /// Splits off numbers (`\p{N}`): each one on its own when `individual`, else runs of them.
    case digits(individual: Bool)
    /// The byte-level stage: optionally prepends a space to a piece that does not start with
    /// one, then (when `useRegex`) splits with GPT-2's pattern. Byte mapping happens in the model.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    /// Splits with a pattern, keeping each match as its own piece ("Isolated" behaviour).
    case split(SplitPattern)
    /// Applies stages one after another.
    case sequence([PreTokenizer])

    /// SmolLM2 (GGUF `tokenizer.ggml.pre` = `smollm`, also StarCoder's): single digits, then
    /// GPT-2's pattern on each stretch between them.
    public static let smolLM = PreTokenizer.sequence([.digits(individual: true), .byteLevel(addPrefixSpace: false, useRegex: true)])
    /// GPT-2 (`gpt-2`).
    public static let gpt2 = PreTokenizer.byteLevel(addPrefixSpace: false, useRegex: true)
    /// LLaMA-3 (`llama-bpe`).
    public static let llama3 = PreTokenizer.sequence([.split(.llama3), .byteLevel(addPrefixSpace: false, useRegex: false)])

    /// The pieces of `text`, as strings (for inspection and tests; encoding uses ranges).
    public func pieces(of text: String) -> [String] {
        var work = ScalarText(text.unicodeScalars)
        let ranges = apply(to: &work, pieces: work.count > 0 ? [0..<work.count] : [])
        return ranges.map { range in
            var view = String.UnicodeScalarView()
            view.append(contentsOf: work.scalars[range])
            return String(view)
        }
    }

    /// Splits `pieces` of `text` further; may insert scalars into `text` (prefix spaces).
    func apply(to text: inout ScalarText, pieces: [Range<Int>]) -> [Range<Int>] {
        switch self {
        case .digits(let individual):
            var out: [Range<Int>] = []
            out.reserveCapacity(pieces.count)
            for range in pieces {
                var position = range.lowerBound
                while position < range.upperBound {
                    let isNumber = text.classes[position] == .number
                    var end = position + 1
                    if !isNumber || !individual {
                        while end < range.upperBound, (text.classes[end] == .number) == isNumber { end += 1 }
                    }
                    out.append(position..<end)
                    position = end
                }
            }
            return out
        case .byteLevel(let addPrefixSpace, let useRegex):
            var pieces = pieces
            if addPrefixSpace { pieces = Self.prependingSpaces(to: &text, pieces: pieces) }
            return useRegex ? PreTokenizer.split(.gpt2).apply(to: &text, pieces: pieces) : pieces
        case .split(let pattern):
            var out: [Range<Int>] = []
            out.reserveCapacity(pieces.count * 2)
            for range in pieces { pattern.split(text, range, into: &out) }
            return out
        case .sequence(let stages):
            var pieces = pieces
            for stage in stages { pieces = stage.apply(to: &text, pieces: pieces) }
            return pieces
        }
    }

    /// Puts a space before every piece that does not begin with one, rebuilding the text.
    private static func prependingSpaces(to text: inout ScalarText, pieces: [Range<Int>]) -> [Range<Int>] {
        guard pieces.contains(where: { text.scalars[$0.lowerBound] != " " }) else { return pieces }
        var scalars: [Unicode.Scalar] = []
        var classes: [ScalarClass] = []
        var out: [Range<Int>] = []
        scalars.reserveCapacity(text.count + pieces.count)
        classes.reserveCapacity(text.count + pieces.count)
        var copied = 0
        for range in pieces {
            scalars.append(contentsOf: text.scalars[copied..<range.lowerBound])
            classes.append(contentsOf: text.classes[copied..<range.lowerBound])
            let start = scalars.count
            if text.scalars[range.lowerBound] != " " {
                scalars.append(" ")
                classes.append(.whitespace)
            }
            scalars.append(contentsOf: text.scalars[range])
            classes.append(contentsOf: text.classes[range])
            out.append(start..<scalars.count)
            copied = range.upperBound
        }
        scalars.append(contentsOf: text.scalars[copied...])
        classes.append(contentsOf: text.classes[copied...])
        text.scalars = scalars
        text.classes = classes
        return out
    }

    /// Whether a byte-level stage is part of this pre-tokenizer.
    var hasByteLevelStage: Bool {
        switch self {
        case .byteLevel: true
        case .sequence(let stages): stages.contains { $0.hasByteLevelStage }
        default: false
        }
    }
}

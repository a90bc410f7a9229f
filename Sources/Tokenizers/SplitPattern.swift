/// The regular expressions that byte-level BPE tokenizers split text with, written out by hand
/// as scanners over Unicode scalars (no regex engine per call).
///
/// Each scanner returns, at a position, the end of the match that the regex's leftmost
/// alternation would find there; every scalar is covered by some alternative, so the pieces tile
/// the text. Matching follows the regex engine of Hugging Face `tokenizers` (see ``ScalarClass``
/// for `\p{L}`, `\p{N}` and `\s`). The lookahead rule `\s+(?!\S)` takes a whitespace run but
/// leaves its last scalar to the next piece when a non-space follows, so `"a   b"` splits as
/// `"a"`, `"  "`, `" b"`.
public enum SplitPattern: String, Sendable, CaseIterable {
    /// GPT-2's pattern (also inside Hugging Face's `ByteLevel` pre-tokenizer with `use_regex`):
    /// case-sensitive English contractions, then letters, numbers or other symbols with one
    /// optional leading space, then whitespace.
    case gpt2
    /// LLaMA-3's pattern: case-insensitive contractions, letters with one optional leading
    /// non-letter, numbers in groups of at most three digits, symbols with trailing newlines,
    /// then whitespace that ends at its last newline.
    case llama3

    /// The regex this scanner implements, as written in a `tokenizer.json`.
    public var regex: String {
        switch self {
        case .gpt2:
            #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
        case .llama3:
            #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        }
    }

    /// The pattern whose regex is `regex`, if it is one of these.
    public init?(regex: String) {
        guard let pattern = SplitPattern.allCases.first(where: { $0.regex == regex }) else { return nil }
        self = pattern
    }

    /// Appends the pieces of `text[range]` to `pieces`.
    func split(_ text: ScalarText, _ range: Range<Int>, into pieces: inout [Range<Int>]) {
        var position = range.lowerBound
        while position < range.upperBound {
            let end: Int
            switch self {
            case .gpt2: end = text.gpt2Match(at: position, before: range.upperBound)
            case .llama3: end = text.llama3Match(at: position, before: range.upperBound)
            }
            pieces.append(position..<end)
            position = end
        }
    }
}

/// Text as Unicode scalars with their classes, the form pre-tokenizers work on.
struct ScalarText {
    var scalars: [Unicode.Scalar]
    var classes: [ScalarClass]

    init<S: Sequence<Unicode.Scalar>>(_ scalars: S) {
        self.scalars = Array(scalars)
        self.classes = self.scalars.map(ScalarClass.init)
    }

    var count: Int { scalars.count }

    /// The end of the run of `kind` scalars that starts at `position`.
    func run(of kind: ScalarClass, from position: Int, before end: Int) -> Int {
        var i = position
        while i < end, classes[i] == kind { i += 1 }
        return i
    }

    /// The length of an English contraction (`'s`, `'t`, `'re`, `'ve`, `'m`, `'ll`, `'d`) at
    /// `position`, or 0. Case-insensitive matching also accepts U+017F (long s) for `s`, as
    /// Unicode case folding does.
    func contraction(at position: Int, before end: Int, ignoringCase: Bool) -> Int {
        guard scalars[position] == "'", position + 1 < end else { return 0 }
        func letter(_ offset: Int) -> Unicode.Scalar? {
            guard position + offset < end else { return nil }
            let scalar = scalars[position + offset]
            guard ignoringCase else { return scalar }
            if scalar == "\u{17F}" { return "s" }
            return ("A"..."Z").contains(scalar) ? Unicode.Scalar(scalar.value + 32)! : scalar
        }
        switch letter(1) {
        case "s", "t", "m", "d": return 2
        case "r", "v": return letter(2) == "e" ? 3 : 0
        case "l": return letter(2) == "l" ? 3 : 0
        default: return 0
        }
    }

    /// The end of the whitespace match at `position` under `\s+(?!\S)|\s+`.
    func whitespaceMatch(at position: Int, before end: Int) -> Int {
        let runEnd = run(of: .whitespace, from: position, before: end)
        if runEnd == end || runEnd - position == 1 { return runEnd }
        return runEnd - 1
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    func gpt2Match(at position: Int, before end: Int) -> Int {
        let length = contraction(at: position, before: end, ignoringCase: false)
        if length > 0 { return position + length }
        var start = position
        if scalars[position] == " ", position + 1 < end, classes[position + 1] != .whitespace {
            start = position + 1
        }
        let kind = classes[start]
        if kind == .whitespace { return whitespaceMatch(at: position, before: end) }
        return run(of: kind, from: start, before: end)
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    func llama3Match(at position: Int, before end: Int) -> Int {
        let length = contraction(at: position, before: end, ignoringCase: true)
        if length > 0 { return position + length }
        let scalar = scalars[position]
        let kind = classes[position]
        let isNewline = scalar == "\r" || scalar == "\n"
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if kind == .letter { return run(of: .letter, from: position, before: end) }
        if kind != .number, !isNewline, position + 1 < end, classes[position + 1] == .letter {
            return run(of: .letter, from: position + 1, before: end)
        }
        // \p{N}{1,3}
        if kind == .number { return min(run(of: .number, from: position, before: end), position + 3) }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        var start = position
        if scalar == " ", position + 1 < end, classes[position + 1] == .other { start = position + 1 }
        if classes[start] == .other {
            var i = run(of: .other, from: start, before: end)
            while i < end, scalars[i] == "\r" || scalars[i] == "\n" { i += 1 }
            return i
        }
        // \s*[\r\n]+ : the whitespace run up to and including its last newline.
        let runEnd = run(of: .whitespace, from: position, before: end)
        var lastNewline = runEnd - 1
        while lastNewline >= position, scalars[lastNewline] != "\r", scalars[lastNewline] != "\n" { lastNewline -= 1 }
        if lastNewline >= position { return lastNewline + 1 }
        return whitespaceMatch(at: position, before: end)
    }
}

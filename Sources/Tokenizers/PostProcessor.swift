/// What `encode(_:addSpecialTokens: true)` adds around a sequence: a fixed list of ids before
/// and after it (Hugging Face's `TemplateProcessing` for a single sequence, or GGUF's
/// `add_bos_token` / `add_eos_token`). Byte-level post-processing adds nothing.
public struct PostProcessor: Sendable, Hashable {
    public var prefix: [Int]
    public var suffix: [Int]

    public init(prefix: [Int] = [], suffix: [Int] = []) {
        self.prefix = prefix
        self.suffix = suffix
    }

    /// Adds nothing.
    public static let none = PostProcessor()

    func apply(_ ids: [Int]) -> [Int] {
        prefix.isEmpty && suffix.isEmpty ? ids : prefix + ids + suffix
    }
}

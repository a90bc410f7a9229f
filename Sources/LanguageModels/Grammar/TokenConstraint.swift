/// Something that restricts which tokens a generator may choose: the hook
/// ``TextGenerator/generate(_:parameters:maxTokens:constraint:onText:)`` calls before and
/// after each token.
public protocol TokenConstraint: AnyObject {
    /// Sets the logits of the tokens that may not come next to -infinity.
    func mask(_ logits: inout [Float])
    /// Records that `token` was chosen; false if the constraint did not allow it (the state is
    /// then unchanged).
    @discardableResult func accept(_ token: Int) -> Bool
    /// Whether what was accepted so far is complete (end of sequence allowed).
    var isComplete: Bool { get }
}

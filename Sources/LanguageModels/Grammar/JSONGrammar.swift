/// A JSON Schema compiled into a byte-level pushdown recogniser.
///
/// A ``GrammarState`` is the set of parses still possible: each is a stack of ``Frame``s (the
/// rules being matched, innermost last). After every byte each stack is expanded until its top
/// frame is one that consumes bytes (a literal, string, number or optional whitespace), or the
/// stack is empty (the document is complete). Alternatives (`anyOf`, optional properties,
/// whether a number has ended) are explored in parallel, so no backtracking is needed and a
/// state answers "can this byte come next?" exactly. Because every live state can be completed
/// (lexers reject prefixes that cannot end well), the generated text never hits a dead end.
///
/// States are plain values (`Hashable`), so callers can cache per-state results.
public struct JSONGrammar: Sendable {
    let rules: [GrammarRule]
    let root: Int32
    /// The state before the first byte.
    public let initialState: GrammarState

    public init(schema: JSONSchema) {
        var compiler = GrammarCompiler()
        // An unsatisfiable schema compiles to an empty choice: nothing is accepted.
        root = schema.satisfiable().map { compiler.compile($0) } ?? compiler.compile(.anyOf([]))
        rules = compiler.rules
        var stacks: [[Frame]] = []
        Self.expand([Frame(rule: root)], rules: compiler.rules, into: &stacks)
        initialState = GrammarState(stacks: stacks)
    }

    /// The state after `byte`, or nil if `byte` cannot come next.
    public func advance(_ state: GrammarState, byte: UInt8) -> GrammarState? {
        var next: [[Frame]] = []
        for stack in state.stacks {
            guard var top = stack.last else { continue }  // complete: nothing more may follow
            var rest = stack
            rest.removeLast()
            switch rules[Int(top.rule)] {
            case .literal(let bytes):
                guard bytes[Int(top.phase)] == byte else { continue }
                top.phase += 1
                if Int(top.phase) < bytes.count { rest.append(top) }
            case .whitespace:
                guard byte == 0x20 || byte == 0x0A else { continue }
            case .string(let minLength, let maxLength):
                switch StringLexer.step(phase: top.phase, count: top.value, byte: byte, minLength: minLength, maxLength: maxLength) {
                case .reject: continue
                case .closed: break
                case .next(let phase, let count):
                    top.phase = phase
                    top.value = count
                    rest.append(top)
                }
            case .number:
                guard let phase = NumberLexer.stepNumber(phase: top.phase, length: top.value, byte: byte) else { continue }
                top.phase = phase
                top.value += 1
                rest.append(top)
            case .decimal(let minimum, let maximum):
                guard let (phase, value) = DecimalLexer.step(phase: top.phase, value: top.value, byte: byte,
                                                             minimum: minimum, maximum: maximum) else { continue }
                top.phase = phase
                top.value = value
                rest.append(top)
            case .integer(let minimum, let maximum):
                guard let (phase, magnitude) = NumberLexer.stepInteger(phase: top.phase, magnitude: top.value, byte: byte,
                                                                        minimum: minimum, maximum: maximum) else { continue }
                top.phase = phase
                top.value = magnitude
                rest.append(top)
            case .sequence, .choice, .empty, .repetition:
                continue  // never on top after expansion
            }
            Self.expand(rest, rules: rules, into: &next)
        }
        return next.isEmpty ? nil : GrammarState(stacks: next)
    }

    /// The state after `bytes`, or nil if they cannot come next.
    public func advance(_ state: GrammarState, bytes: some Sequence<UInt8>) -> GrammarState? {
        var state = state
        for byte in bytes {
            guard let next = advance(state, byte: byte) else { return nil }
            state = next
        }
        return state
    }

    /// Whether `text` is a complete document the schema accepts.
    public func accepts(_ text: String) -> Bool {
        advance(initialState, bytes: text.utf8)?.isComplete ?? false
    }

    /// Whether `text` can be extended into a document the schema accepts (or is one).
    public func acceptsPrefix(_ text: String) -> Bool {
        advance(initialState, bytes: text.utf8) != nil
    }

    /// Expands `stack` until its top frame consumes bytes, adding each resulting stack to `out`
    /// (once). Choices fork; rules that are finished pop.
    static func expand(_ stack: [Frame], rules: [GrammarRule], into out: inout [[Frame]]) {
        var stack = stack
        while let top = stack.last {
            switch rules[Int(top.rule)] {
            case .literal, .string:
                add(stack, to: &out)
                return
            case .whitespace:
                add(stack, to: &out)  // take a space...
                stack.removeLast()    // ...or not
            case .empty:
                stack.removeLast()
            case .sequence(let items):
                stack.removeLast()
                let i = Int(top.phase)
                if i + 1 < items.count { stack.append(Frame(rule: top.rule, phase: top.phase + 1)) }
                if i < items.count { stack.append(Frame(rule: items[i])) }
            case .choice(let alternatives):
                // An empty choice (an empty `enum` or `anyOf` built in Swift) matches nothing.
                guard let last = alternatives.last else { return }
                stack.removeLast()
                for alternative in alternatives.dropLast() {
                    expand(stack + [Frame(rule: alternative)], rules: rules, into: &out)
                }
                stack.append(Frame(rule: last))
            case .number:
                if NumberLexer.numberCanContinue(top.phase, length: top.value) { add(stack, to: &out) }
                guard NumberLexer.numberCanEnd(top.phase) else { return }
                stack.removeLast()
            case .integer(let minimum, let maximum):
                if NumberLexer.integerCanContinue(phase: top.phase, magnitude: top.value, minimum: minimum, maximum: maximum) {
                    add(stack, to: &out)
                }
                guard NumberLexer.integerCanEnd(phase: top.phase, magnitude: top.value, minimum: minimum, maximum: maximum) else { return }
                stack.removeLast()
            case .decimal(let minimum, let maximum):
                if DecimalLexer.canContinue(phase: top.phase, value: top.value, minimum: minimum, maximum: maximum) {
                    add(stack, to: &out)
                }
                guard DecimalLexer.canEnd(phase: top.phase, value: top.value, minimum: minimum, maximum: maximum) else { return }
                stack.removeLast()
            case .repetition(let item, let separator, let minimum, let maximum):
                // phase = items matched so far (clamped to `minimum` when there is no maximum, so
                // that long lists recur as one state); value 0 before the first item, 1 after one.
                stack.removeLast()
                let count = Int(top.phase)
                if maximum.map({ count < $0 }) ?? true {
                    let next = maximum == nil ? min(count + 1, minimum) : count + 1
                    var more = stack
                    more.append(Frame(rule: top.rule, phase: Int32(next), value: 1))
                    more.append(Frame(rule: item))
                    if top.value == 1 { more.append(Frame(rule: separator)) }
                    expand(more, rules: rules, into: &out)
                }
                guard count >= minimum else { return }
            }
        }
        add(stack, to: &out)  // empty: the document is complete
    }

    private static func add(_ stack: [Frame], to out: inout [[Frame]]) {
        if !out.contains(stack) { out.append(stack) }
    }
}

/// One rule being matched: which rule, how far (`phase`: a sequence's next item, a literal's
/// next byte, a lexer's state) and a lexer's number (`value`: a string's length, an integer's
/// magnitude, a number's length).
struct Frame: Hashable, Sendable {
    var rule: Int32
    var phase: Int32 = 0
    var value: Int64 = 0
}

/// Where a ``JSONGrammar`` is in a document: every parse still possible.
public struct GrammarState: Hashable, Sendable {
    var stacks: [[Frame]]

    /// The bytes so far form a complete document (end of sequence may come now).
    public var isComplete: Bool { stacks.contains { $0.isEmpty } }
    /// More bytes may follow.
    public var canContinue: Bool { stacks.contains { !$0.isEmpty } }
}

/// Byte-at-a-time lexers for JSON strings and numbers. Each keeps its whole state in a frame's
/// `phase` and `value` so that recogniser states stay small, comparable and hashable (the token
/// mask cache is keyed by them).

/// JSON string literals: `"` characters `"`, where a character is an unescaped scalar other
/// than `"`, `\` and controls, or an escape. UTF-8 is validated byte by byte (overlongs and
/// surrogates rejected) because tokens can end in the middle of a character and the output must
/// still be valid UTF-8. `\uXXXX` escapes of lone surrogates (`\uD800`–`\uDFFF`) are rejected too.
enum StringLexer {
    // Phases.
    static let open: Int32 = 0, body: Int32 = 1, escape: Int32 = 2
    static let hex1: Int32 = 3, hex2: Int32 = 4, hex2AfterD: Int32 = 5, hex3: Int32 = 6, hex4: Int32 = 7
    static let continuation1: Int32 = 10, continuation2: Int32 = 11, continuation3: Int32 = 12
    static let afterE0: Int32 = 13, afterED: Int32 = 14, afterF0: Int32 = 15, afterF4: Int32 = 16

    enum Step { case reject, next(phase: Int32, count: Int64), closed }

    /// Consumes `byte`. `count` is the number of scalars so far; it is only kept (non-zero) when
    /// the schema bounds the length, so that unbounded strings keep one recurring state.
    static func step(phase: Int32, count: Int64, byte: UInt8, minLength: Int, maxLength: Int?) -> Step {
        let counting = minLength > 0 || maxLength != nil
        // A new character may start only while the maximum is not reached.
        let started: Int64 = counting ? count + 1 : 0
        let roomForOne = maxLength.map { count < Int64($0) } ?? true
        func hex(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x66) }
        switch phase {
        case open: return byte == 0x22 ? .next(phase: body, count: 0) : .reject
        case body:
            switch byte {
            case 0x22: return count >= Int64(minLength) ? .closed : .reject
            case 0x5C: return roomForOne ? .next(phase: escape, count: started) : .reject
            case 0x00..<0x20: return .reject
            case 0x20..<0x80: return roomForOne ? .next(phase: body, count: started) : .reject
            default:
                guard roomForOne else { return .reject }
                let next: Int32
                switch byte {
                case 0xC2...0xDF: next = continuation1
                case 0xE0: next = afterE0
                case 0xED: next = afterED
                case 0xE1...0xEF: next = continuation2
                case 0xF0: next = afterF0
                case 0xF1...0xF3: next = continuation3
                case 0xF4: next = afterF4
                default: return .reject  // stray continuation byte, C0/C1, F5...FF
                }
                return .next(phase: next, count: started)
            }
        case escape:
            switch byte {
            case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: return .next(phase: body, count: count)
            case 0x75: return .next(phase: hex1, count: count)
            default: return .reject
            }
        case hex1:
            guard hex(byte) else { return .reject }
            return .next(phase: byte | 0x20 == 0x64 ? hex2AfterD : hex2, count: count)
        case hex2: return hex(byte) ? .next(phase: hex3, count: count) : .reject
        case hex2AfterD: return byte >= 0x30 && byte <= 0x37 ? .next(phase: hex3, count: count) : .reject
        case hex3: return hex(byte) ? .next(phase: hex4, count: count) : .reject
        case hex4: return hex(byte) ? .next(phase: body, count: count) : .reject
        default:
            // UTF-8 continuation bytes; the first one after E0/ED/F0/F4 has a narrower range.
            let (low, high, next): (UInt8, UInt8, Int32) = switch phase {
            case continuation1: (0x80, 0xBF, body)
            case continuation2: (0x80, 0xBF, continuation1)
            case continuation3: (0x80, 0xBF, continuation2)
            case afterE0: (0xA0, 0xBF, continuation1)
            case afterED: (0x80, 0x9F, continuation1)
            case afterF0: (0x90, 0xBF, continuation2)
            default: (0x80, 0x8F, continuation2)  // afterF4
            }
            return byte >= low && byte <= high ? .next(phase: next, count: count) : .reject
        }
    }
}

/// JSON numbers and integers. Phases: 0 start, 1 after `-`, 2 after a leading `0`, 3 integer
/// digits, 4 after `.`, 5 fraction digits, 6 after `e`, 7 after the exponent's sign, 8 first and
/// 9 second exponent digit; 2, 3, 5, 8 and 9 can end the number. A number has no terminator of
/// its own, so the recogniser keeps both readings (ended / goes on) while both are possible.
///
/// Lengths are capped (``maximumNumberLength`` bytes, 15 digits for integers, two exponent
/// digits so that every number is a finite double that Foundation parses) so that a model
/// cannot write digits forever; transitions only enter states from which the number can still
/// be finished within the cap, so the cap never causes a dead end.
enum NumberLexer {
    static let maximumNumberLength: Int64 = 24
    static let maximumIntegerMagnitude: Int64 = 1_000_000_000_000_000  // 10^15
    /// Integer phases carry the sign in this bit.
    static let negative: Int32 = 16

    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    // MARK: number (value = length in bytes)

    static func stepNumber(phase: Int32, length: Int64, byte: UInt8) -> Int32? {
        let next: Int32?
        switch (phase, byte) {
        case (0, 0x2D): next = 1
        case (0, 0x30), (1, 0x30): next = 2
        case (0, 0x31...0x39), (1, 0x31...0x39), (3, 0x30...0x39): next = 3
        case (2, 0x2E), (3, 0x2E): next = 4
        case (4, 0x30...0x39), (5, 0x30...0x39): next = 5
        case (2, 0x65), (2, 0x45), (3, 0x65), (3, 0x45), (5, 0x65), (5, 0x45): next = 6
        case (6, 0x2B), (6, 0x2D): next = 7
        case (6, 0x30...0x39), (7, 0x30...0x39): next = 8
        case (8, 0x30...0x39): next = 9
        default: next = nil
        }
        guard let next else { return nil }
        // Enter a state only if it can still be finished within the cap.
        let room = numberCanEnd(next) ? 1 : 2  // a non-final state needs room for one more digit
        return length + Int64(room) <= maximumNumberLength ? next : nil
    }

    static func numberCanEnd(_ phase: Int32) -> Bool { phase == 2 || phase == 3 || phase == 5 || phase == 8 || phase == 9 }

    static func numberCanContinue(_ phase: Int32, length: Int64) -> Bool {
        switch phase {
        case 2: length + 2 <= maximumNumberLength  // `.` or `e` and a digit
        case 3, 5, 8: length + 1 <= maximumNumberLength
        case 9: false
        default: true  // entered only with room to finish
        }
    }

    // MARK: integer (value = magnitude so far)

    /// The next phase and magnitude, or nil if `byte` cannot continue an integer that can still
    /// end inside the bounds.
    static func stepInteger(phase: Int32, magnitude: Int64, byte: UInt8, minimum: Int?, maximum: Int?) -> (Int32, Int64)? {
        let sign = phase & negative
        let p = phase & ~negative
        let result: (Int32, Int64)
        switch p {
        case 0 where byte == 0x2D: result = (1 | negative, 0)
        case 0 where byte == 0x30: result = (2, 0)
        case 0 where isDigit(byte), 1 where byte >= 0x31 && byte <= 0x39: result = (3 | sign, Int64(byte - 0x30))
        case 3 where isDigit(byte): result = (3 | sign, magnitude * 10 + Int64(byte - 0x30))
        default: return nil  // including `-0` and digits after a leading 0
        }
        let ok = integerCanEnd(phase: result.0, magnitude: result.1, minimum: minimum, maximum: maximum)
            || integerCanContinue(phase: result.0, magnitude: result.1, minimum: minimum, maximum: maximum)
        return ok ? result : nil
    }

    static func integerCanEnd(phase: Int32, magnitude: Int64, minimum: Int?, maximum: Int?) -> Bool {
        let p = phase & ~negative
        guard p == 2 || p == 3 else { return false }
        let value = phase & negative != 0 ? -magnitude : magnitude
        return value >= Int64(minimum ?? Int.min) && value <= Int64(maximum ?? Int.max)
    }

    /// Whether some digits appended to the magnitude reach a value inside the bounds.
    static func integerCanContinue(phase: Int32, magnitude: Int64, minimum: Int?, maximum: Int?) -> Bool {
        let isNegative = phase & negative != 0
        let low = Int64(minimum ?? Int.min), high = Int64(maximum ?? Int.max)
        switch phase & ~negative {
        case 0: return true
        case 1: return low <= -1  // some negative integer; `minimum <= maximum` is checked at parse
        case 3:
            var scale: Int64 = 10
            while magnitude * scale < maximumIntegerMagnitude {
                let lo = magnitude * scale, hi = lo + scale - 1
                let (a, b) = isNegative ? (-hi, -lo) : (lo, hi)
                if a <= high && b >= low { return true }
                scale *= 10
            }
            return false
        default: return false
        }
    }
}

/// Numbers within bounds, written as decimals: `-?(0|[1-9][0-9]*)(\.[0-9]{1,6})?` (no exponent;
/// box coordinates and thresholds never need one). Like ``NumberLexer``'s integers, a prefix is
/// accepted only if some continuation ends inside the bounds, so a model cannot write itself
/// into a number it cannot finish.
///
/// Phase: the state in the low 4 bits (0 start, 1 after `-`, 2 after a leading `0`, 3 integer
/// digits, 4 after `.`, 5 fraction digits), the sign in bit 4, the number of fraction digits
/// from bit 8. Value: all digits so far read as one integer.
enum DecimalLexer {
    static let maximumFractionDigits: Int32 = 6
    /// Integer parts stay below this, so that every value is exact in a `Double`.
    static let integerLimit: Int64 = 1_000_000_000
    static let negative: Int32 = 16
    static let unit = 1e-6
    static let tenTo: [Double] = [1, 10, 100, 1e3, 1e4, 1e5, 1e6]

    static func step(phase: Int32, value: Int64, byte: UInt8, minimum: Double?, maximum: Double?) -> (Int32, Int64)? {
        let sign = phase & negative, state = phase & 15, fractions = phase >> 8
        let digit = Int64(byte) - 0x30
        let isDigit = digit >= 0 && digit <= 9
        let next: (Int32, Int64)
        switch state {
        case 0 where byte == 0x2D: next = (1 | negative, 0)
        case 0 where digit == 0, 1 where digit == 0: next = (2 | sign, 0)
        case 0 where isDigit, 1 where isDigit: next = (3 | sign, digit)
        case 3 where isDigit && value * 10 + digit < integerLimit: next = (3 | sign, value * 10 + digit)
        case 2 where byte == 0x2E, 3 where byte == 0x2E: next = (4 | sign, value)
        case 4 where isDigit: next = (5 | sign | (1 << 8), value * 10 + digit)
        case 5 where isDigit && fractions < maximumFractionDigits: next = (5 | sign | ((fractions + 1) << 8), value * 10 + digit)
        default: return nil
        }
        let ok = canEnd(phase: next.0, value: next.1, minimum: minimum, maximum: maximum)
            || canContinue(phase: next.0, value: next.1, minimum: minimum, maximum: maximum)
        return ok ? next : nil
    }

    static func canEnd(phase: Int32, value: Int64, minimum: Double?, maximum: Double?) -> Bool {
        let state = phase & 15
        guard state == 2 || state == 3 || state == 5 else { return false }
        let magnitude = Double(value) / tenTo[Int(phase >> 8)]
        let x = phase & negative != 0 ? -magnitude : magnitude
        let tolerance = unit / 2
        return x >= (minimum ?? -.infinity) - tolerance && x <= (maximum ?? .infinity) + tolerance
    }

    /// Whether more bytes can reach a value inside the bounds.
    static func canContinue(phase: Int32, value: Int64, minimum: Double?, maximum: Double?) -> Bool {
        let isNegative = phase & negative != 0
        // The magnitudes reachable from here, as closed intervals.
        var reachable: [(Double, Double)] = []
        switch phase & 15 {
        case 0: return true
        case 1: return (minimum ?? -.infinity) < 0
        case 2: reachable = [(0, 1 - unit)]
        case 3:
            let m = Double(value)
            reachable = [(m, m + 1 - unit)]
            var scale = 10.0
            while m * scale < Double(integerLimit) {
                reachable.append((m * scale, (m + 1) * scale - unit))
                scale *= 10
            }
        case 4: reachable = [(Double(value), Double(value) + 1 - unit)]
        case 5:
            let fractions = phase >> 8
            guard fractions < maximumFractionDigits else { return false }
            let scale = tenTo[Int(fractions)]
            reachable = [(Double(value) / scale, (Double(value) + 1) / scale - unit)]
        default: return false
        }
        let low = minimum ?? -.infinity, high = maximum ?? .infinity
        let tolerance = unit / 2
        return reachable.contains { a, b in
            let (lo, hi) = isNegative ? (-b, -a) : (a, b)
            return lo <= high + tolerance && hi >= low - tolerance
        }
    }
}

import Foundation

/// The few parts of XML that OpenCV's `FileStorage` writes: nested elements with text, a
/// prolog, comments and attributes (kept only as text of no interest). Enough for cascade
/// files; not a general XML parser. Written here rather than using `FoundationXML` so the
/// module needs no libxml2 at run time, and so errors can name the line.
struct CascadeXMLElement {
    var name: String
    /// The element's own text (between its tags, outside its children), whitespace trimmed.
    var text: String
    var children: [CascadeXMLElement]
    /// The line of the start tag, for error messages.
    var line: Int

    /// The first child called `name`.
    func child(_ name: String) -> CascadeXMLElement? { children.first { $0.name == name } }

    /// Parses `bytes`; the result is the document's root element.
    static func parse(_ bytes: [UInt8]) throws(CascadeXMLSyntaxError) -> CascadeXMLElement {
        var stack: [CascadeXMLElement] = []
        var root: CascadeXMLElement?
        var text: [UInt8] = []
        var i = 0, line = 1
        let n = bytes.count

        func fail(_ message: String) -> CascadeXMLSyntaxError { CascadeXMLSyntaxError(line: line, message: message) }
        func starts(_ literal: String, at index: Int) -> Bool {
            let utf8 = Array(literal.utf8)
            return index + utf8.count <= n && Array(bytes[index..<index + utf8.count]) == utf8
        }
        /// Moves `i` past the next `terminator`, counting lines.
        func skip(past terminator: String) throws(CascadeXMLSyntaxError) {
            let t = Array(terminator.utf8)
            while i + t.count <= n {
                if bytes[i] == t[0] && Array(bytes[i..<i + t.count]) == t { i += t.count; return }
                if bytes[i] == UInt8(ascii: "\n") { line += 1 }
                i += 1
            }
            throw fail("unterminated markup (no \(terminator))")
        }
        func flushText() {
            guard !stack.isEmpty, !text.isEmpty else { text.removeAll(keepingCapacity: true); return }
            stack[stack.count - 1].text += String(decoding: text, as: UTF8.self)
            text.removeAll(keepingCapacity: true)
        }

        while i < n {
            let byte = bytes[i]
            if byte != UInt8(ascii: "<") {
                if byte == UInt8(ascii: "\n") { line += 1 }
                if !stack.isEmpty { text.append(byte) }
                i += 1
                continue
            }
            flushText()
            if starts("<!--", at: i) { try skip(past: "-->"); continue }
            if starts("<?", at: i) { try skip(past: "?>"); continue }
            if starts("<![CDATA[", at: i) {
                let start = i + 9
                try skip(past: "]]>")
                if !stack.isEmpty { stack[stack.count - 1].text += String(decoding: bytes[start..<i - 3], as: UTF8.self) }
                continue
            }
            if starts("<!", at: i) { try skip(past: ">"); continue }
            let tagLine = line
            let tagStart = i + 1
            try skip(past: ">")
            var tag = bytes[tagStart..<i - 1]
            if tag.first == UInt8(ascii: "/") {
                let name = String(decoding: tag.dropFirst(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                guard var element = stack.popLast() else { throw fail("</\(name)> closes nothing") }
                guard element.name == name else {
                    throw fail("</\(name)> closes <\(element.name)> of line \(element.line)")
                }
                element.text = element.text.trimmingCharacters(in: .whitespacesAndNewlines)
                if stack.isEmpty {
                    guard root == nil else { throw fail("more than one root element") }
                    root = element
                } else {
                    stack[stack.count - 1].children.append(element)
                }
                continue
            }
            let selfClosing = tag.last == UInt8(ascii: "/")
            if selfClosing { tag = tag.dropLast() }
            let nameEnd = tag.firstIndex { $0 == 32 || $0 == 9 || $0 == 10 || $0 == 13 } ?? tag.endIndex
            let name = String(decoding: tag[tag.startIndex..<nameEnd], as: UTF8.self)
            guard !name.isEmpty else { throw fail("a tag without a name") }
            let element = CascadeXMLElement(name: name, text: "", children: [], line: tagLine)
            if selfClosing {
                if stack.isEmpty { root = element } else { stack[stack.count - 1].children.append(element) }
            } else {
                stack.append(element)
            }
        }
        if let open = stack.last { throw fail("<\(open.name)> of line \(open.line) is never closed") }
        guard let root else { throw fail("no root element") }
        return root
    }
}

struct CascadeXMLSyntaxError: Error {
    var line: Int
    var message: String
}

import Foundation
import Testing
@testable import LanguageModels

/// The byte-level recogniser: complete documents accepted, invalid prefixes rejected as soon
/// as they become invalid, for each supported schema feature.
struct GrammarRecognizerTests {
    private func check(_ schema: JSONSchema, accepts good: [String], rejects bad: [String], prefixes: [String] = [],
                       sourceLocation: SourceLocation = #_sourceLocation) {
        let grammar = JSONGrammar(schema: schema)
        for text in good {
            #expect(grammar.accepts(text), "should accept \(text)", sourceLocation: sourceLocation)
        }
        for text in bad {
            #expect(!grammar.acceptsPrefix(text), "should reject \(text)", sourceLocation: sourceLocation)
        }
        for text in prefixes {
            #expect(grammar.acceptsPrefix(text) && !grammar.accepts(text), "incomplete prefix \(text)", sourceLocation: sourceLocation)
        }
    }

    @Test func objectsHaveTheirPropertiesInOrder() {
        let schema = JSONSchema.object([.init("a", .integer()), .init("b", .string)])
        check(schema, accepts: [#"{"a":1,"b":"x"}"#, #"{"a": 1, "b": "x"}"#, "{\"a\":\n1,\n\"b\":\"\"}"],
              rejects: [#"{"b""#, #"{"a":1}"#, #"{"a":1,"b":"x","c""#, #"{"a":1,"b":"x"},"#, #"{ "#, #"{"a":  "#, #"{"a":1 ,"#],
              prefixes: [#"{"a":1"#, #"{"a":12,"b":"x"#])
    }

    @Test func optionalPropertiesMayBeSkipped() {
        let schema = JSONSchema.object([.init("a", .boolean, required: false), .init("b", .null), .init("c", .integer(), required: false)])
        check(schema, accepts: [#"{"b":null}"#, #"{"a":true,"b":null}"#, #"{"b":null,"c":3}"#, #"{"a":false,"b":null,"c":0}"#],
              rejects: [#"{}"#, #"{"c":1"#, #"{"a":true}"#, #"{"a":1"#, #"{,"#])
        check(.object([]), accepts: ["{}"], rejects: ["{ ", "{\""])
    }

    @Test func arraysRespectTheirBounds() {
        check(.array(items: .integer(), minItems: 1, maxItems: 3), accepts: ["[1]", "[1,2]", "[1, 2, 3]"],
              rejects: ["[]", "[1,2,3,", "[,", "[1,]"], prefixes: ["[", "[1,"])
        check(.array(items: .string), accepts: ["[]", #"["a","b"]"#], rejects: ["[1", "[\"a\" "])
        check(.array(items: .boolean, maxItems: 0), accepts: ["[]"], rejects: ["[t"])
    }

    @Test func stringsEscapesAndUTF8() {
        check(.string, accepts: [#""""#, #""a b""#, #""\"\\\/\b\f\n\r\t""#, #""\u00e9\uD7FF""#, "\"é😀\u{7F}\""],
              rejects: ["\"\n", #""\x"#, #""\uD800"#, #""\u12g"#, "a", "\"\"x"])
        // Raw bytes: a stray continuation byte, an overlong lead, a UTF-16 surrogate in UTF-8, a truncated character.
        let grammar = JSONGrammar(schema: .string)
        for bad: [UInt8] in [[0x22, 0x80], [0x22, 0xC0], [0x22, 0xED, 0xA0], [0x22, 0xE0, 0x80], [0x22, 0xF4, 0x90], [0x22, 0xC3, 0x22]] {
            #expect(grammar.advance(grammar.initialState, bytes: bad) == nil, "\(bad)")
        }
        #expect(grammar.advance(grammar.initialState, bytes: [0x22, 0xC3]) != nil)
    }

    @Test func stringLengthsCountScalars() {
        check(.string(minLength: 1, maxLength: 3), accepts: [#""a""#, #""abc""#, #""é😀\n""#],
              rejects: [#""""#, #""abcd"#, #""ab\n\"#])
    }

    @Test func integersStayInRange() {
        check(.integer(), accepts: ["0", "-5", "1234567", "10"], rejects: ["01", "-0", "1.5", "1e3", "+1", "- "], prefixes: ["-"])
        check(.integer(minimum: 10, maximum: 99), accepts: ["10", "42", "99"], rejects: ["0", "9 ", "100", "-", "5 ", "1000"],
              prefixes: ["1", "9"])
        check(.integer(minimum: -20, maximum: -3), accepts: ["-3", "-20", "-15"], rejects: ["0", "3", "-21", "-30", "-1 ", "-2 "],
              prefixes: ["-"])
        check(.integer(minimum: 0, maximum: 0), accepts: ["0"], rejects: ["1", "-"])
        // Digits are capped (15) so that a model cannot write them forever.
        check(.integer(), accepts: ["999999999999999"], rejects: ["9999999999999999"])
    }

    @Test func numbers() {
        check(.number, accepts: ["0", "-0", "1.5", "-0.25e-3", "3E+10", "12e5"],
              rejects: ["01", "1.", ".5", "1e", "--1", "1.5.2", "NaN"].map { $0 + " " }, prefixes: ["-", "1.", "1e", "1e+"])
        check(.number, accepts: [String(repeating: "1", count: 24)], rejects: [String(repeating: "1", count: 25), String(repeating: "1", count: 23) + "."])
    }

    @Test func scalarsEnumsAndConst() {
        check(.boolean, accepts: ["true", "false"], rejects: ["tru ", "null", "True"])
        check(.null, accepts: ["null"], rejects: ["nul "])
        check(.stringEnum(["detect", "ocr", "de"]), accepts: [#""detect""#, #""ocr""#, #""de""#], rejects: [#""dete""#, #""o""#, #""x"#])
        check(.oneOfValues([.integer(3), .bool(true), .null, .string("a\"b")]), accepts: ["3", "true", "null", #""a\"b""#],
              rejects: ["4", "30", "false"])
        check(.const(.string("x")), accepts: [#""x""#], rejects: [#""y"#])
    }

    @Test func anyOfFollowsEveryAlternative() {
        // Two objects sharing a prefix, told apart by a const property: the tool-call shape.
        let detect = JSONSchema.object([.init("API_name", .const(.string("detect"))), .init("API_params", .object([.init("caption", .string)]))])
        let ocr = JSONSchema.object([.init("API_name", .const(.string("ocr"))), .init("API_params", .object([]))])
        check(.anyOf([detect, ocr]),
              accepts: [#"{"API_name": "detect", "API_params": {"caption": "cat"}}"#, #"{"API_name":"ocr","API_params":{}}"#],
              rejects: [#"{"API_name": "ocr", "API_params": {"c"#, #"{"API_name": "detect", "API_params": {}"#, #"{"API_name": "seg"#])
        check(.anyOf([.integer(), .string, .null]), accepts: ["1", "\"a\"", "null"], rejects: ["t", "[", "1a"])
        // Unsatisfiable parts are dropped before the model could start them: no dead ends.
        check(.object([.init("a", .anyOf([]))]), accepts: [], rejects: ["{"])
        check(.object([.init("a", .integer(minimum: 3, maximum: 2), required: false), .init("b", .null)]),
              accepts: [#"{"b":null}"#], rejects: [#"{"a""#])
        check(.anyOf([.oneOfValues([]), .array(items: .string(minLength: 2, maxLength: 1))]), accepts: ["[]"], rejects: ["[\""])
    }

    @Test func anyValue() {
        check(.any, accepts: ["1", "\"a\"", "null", "[]", "{}", #"{"a": [1, {"b": null}], "c": -1.5e3}"#, "[[[]]]"],
              rejects: ["{1", "[,", "{\"a\"}", "nul ", "{\"a\":1,}"])
    }

    @Test func parsesSchemaDocuments() throws {
        let text = """
        {"type": "object", "properties": {
            "value": {"type": "string", "maxLength": 5},
            "thoughts": {"type": "string"},
            "n": {"type": "integer", "minimum": 1, "maximum": 9},
            "kind": {"enum": ["a", "b", 1, true, null]},
            "tags": {"type": "array", "items": {"type": ["string", "null"]}, "maxItems": 2},
            "extra": {"anyOf": [{"const": "x"}, {"type": "number"}, {"type": "boolean"}]}
        }, "required": ["thoughts", "value"], "additionalProperties": false}
        """
        let schema = try JSONSchema(parsing: text)
        guard case .object(let properties) = schema else { Issue.record("not an object"); return }
        #expect(properties.map(\.name) == ["thoughts", "value", "extra", "kind", "n", "tags"])
        #expect(properties.map(\.isRequired) == [true, true, false, false, false, false])
        #expect(properties[3].schema == .oneOfValues([.string("a"), .string("b"), .integer(1), .bool(true), .null]))
        #expect(properties[4].schema == .integer(minimum: 1, maximum: 9))
        #expect(properties[5].schema == .array(items: .anyOf([.string, .null]), maxItems: 2))
        let grammar = JSONGrammar(schema: schema)
        #expect(grammar.accepts(#"{"thoughts": "t", "value": "v", "kind": 1, "tags": [null, "x"]}"#))
        #expect(!grammar.acceptsPrefix(#"{"thoughts": "t", "value": "toolong"#))

        for unsupported in [##"{"$ref": "#/a"}"##, #"{"type": "string", "pattern": "a+"}"#, #"{"type": "object", "additionalProperties": true}"#,
                            #"{"allOf": []}"#, #"{"enum": [[1]]}"#, #"{"type": ["string", "integer"]}"#] {
            #expect(throws: JSONSchemaError.self) { try JSONSchema(parsing: unsupported) }
        }
        #expect(throws: JSONSchemaError.self) { try JSONSchema(parsing: #"{"type": "object", "required": ["x"]}"#) }
    }

    /// Bounded numbers are decimals whose every accepted prefix can still end inside the bounds.
    @Test func decimalsStayWithinTheirBounds() throws {
        let unit = JSONGrammar(schema: try JSONSchema(parsing: #"{"type": "number", "minimum": 0, "maximum": 1}"#))
        for text in ["0", "1", "0.35", "1.0", "0.000001", "0.999999", "1.000000"] { #expect(unit.accepts(text), "\(text)") }
        for text in ["1.5", "2", "-0.1", "0.1234567", "1e-3", "01", ".5", "1.", "-"] { #expect(!unit.accepts(text), "\(text)") }
        // No dead ends: "1." can only become 1.0...; "2" cannot start at all.
        #expect(unit.acceptsPrefix("1."))
        #expect(!unit.acceptsPrefix("1.1"))
        #expect(!unit.acceptsPrefix("2"))
        #expect(!unit.acceptsPrefix("-"))

        let negative = JSONGrammar(schema: try JSONSchema(parsing: #"{"type": "number", "minimum": -2.5, "exclusiveMaximum": -0.5}"#))
        for text in ["-1", "-2.5", "-0.500001", "-2"] { #expect(negative.accepts(text), "\(text)") }
        for text in ["-0.5", "-2.6", "0", "1", "-3"] { #expect(!negative.accepts(text), "\(text)") }

        let gap = JSONGrammar(schema: try JSONSchema(parsing: #"{"type": "number", "minimum": 3, "maximum": 5}"#))
        #expect(!gap.acceptsPrefix("1"))  // 1.x and 1x are all outside [3, 5]
        #expect(gap.acceptsPrefix("4.") && gap.accepts("4.75") && gap.accepts("5") && !gap.accepts("5.01"))
        #expect(throws: JSONSchemaError.self) { try JSONSchema(parsing: #"{"type": "number", "minimum": 2, "maximum": 1}"#) }
    }

    /// A skill manifest's input schema (design.md's `detect`): strict parsing refuses `format`,
    /// lenient parsing generates a plain string for it.
    @Test func parsesManifestSchemasLeniently() throws {
        let text = """
            {"type": "object", "properties": {
                "image": {"type": "string", "format": "image-artifact"},
                "caption": {"type": "string", "description": "objects separated by ' . '"},
                "box_threshold": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.3},
                "top_k": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10.5}},
             "required": ["image", "caption"]}
            """
        #expect(throws: JSONSchemaError.unsupported("format")) { try JSONSchema(parsing: text) }
        let schema = try JSONSchema(parsing: text, strict: false)
        #expect(schema == .object([.init("image", .string), .init("caption", .string), .init("box_threshold", .decimal(minimum: 0, maximum: 1), required: false),
                                   .init("top_k", .integer(minimum: 1, maximum: 10), required: false)]))
    }
}

/// The agent's tool-call schema built from skills.
struct GrammarToolCallSchemaTests {
    @Test func actionsNameASkillAndTakeItsParameters() {
        let schema = JSONSchema.toolCall(skills: [("detect", .object([.init("caption", .string)])), ("ocr", .object([]))], maxActions: 1)
        let grammar = JSONGrammar(schema: schema)
        #expect(grammar.accepts(#"{"thoughts": "t", "actions": [{"API_name": "ocr", "API_params": {}}], "value": ""}"#))
        #expect(grammar.accepts(#"{"thoughts": "", "actions": [], "value": "done"}"#))
        #expect(!grammar.acceptsPrefix(#"{"thoughts": "", "actions": [{"API_name": "segment""#))
        #expect(!grammar.acceptsPrefix(#"{"thoughts": "", "actions": [{"API_name": "ocr", "API_params": {}}, "#))
        let none = JSONGrammar(schema: .toolCall(skills: []))
        #expect(none.accepts(#"{"thoughts": "", "actions": [], "value": ""}"#) && !none.acceptsPrefix(#"{"thoughts": "", "actions": [{"#))
    }
}

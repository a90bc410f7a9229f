import Testing
@testable import Skills

/// One test per keyword of the supported subset, each checking the exact message and pointer.
@Suite struct JSONSchemaValidatorTests {
    func violations(_ schema: JSONValue, _ value: JSONValue, at pointer: String = "") -> [String] {
        JSONSchemaValidator(schema: schema).validate(value, at: pointer).violations.map(\.description)
    }

    @Test func types() {
        #expect(violations(["type": "string"], "x") == [])
        #expect(violations(["type": "string"], 1) == ["(root): expected string, found integer 1"])
        #expect(violations(["type": "number"], 1) == [])
        #expect(violations(["type": "number"], 1.5) == [])
        #expect(violations(["type": "integer"], 2.0) == [])  // 2.0 is an integer in JSON Schema
        #expect(violations(["type": "integer"], 2.5) == ["(root): expected integer, found number 2.5"])
        #expect(violations(["type": "boolean"], true) == [])
        #expect(violations(["type": "boolean"], "true") == ["(root): expected boolean, found string \"true\""])
        #expect(violations(["type": "null"], nil) == [])
        #expect(violations(["type": "null"], false) == ["(root): expected null, found boolean false"])
        #expect(violations(["type": "array"], [1]) == [])
        #expect(violations(["type": "array"], ["a": 1]) == ["(root): expected array, found object"])
        #expect(violations(["type": "object"], [:]) == [])
        #expect(violations(["type": "object"], [1]) == ["(root): expected object, found array"])
    }

    @Test func typeArrays() {
        let schema: JSONValue = ["type": ["string", "null"]]
        #expect(violations(schema, "x") == [])
        #expect(violations(schema, nil) == [])
        #expect(violations(schema, 3) == ["(root): expected one of string, null, found integer 3"])
        // YAML's bare `null` inside a type array names the null type.
        #expect(violations(["type": ["integer", nil]], nil) == [])
    }

    @Test func requiredAndProperties() {
        let schema: JSONValue = ["type": "object", "properties": ["a": ["type": "string"], "b": ["type": "object", "properties": ["c": ["type": "integer"]], "required": ["c"]]], "required": ["a", "b"]]
        #expect(violations(schema, ["a": "x", "b": ["c": 1]]) == [])
        #expect(violations(schema, [:]) == ["/a: required property is missing", "/b: required property is missing"])
        #expect(violations(schema, ["a": 1, "b": ["c": "no"]]) == ["/a: expected string, found integer 1", "/b/c: expected integer, found string \"no\""])
        #expect(violations(schema, ["a": "x", "b": [:]]) == ["/b/c: required property is missing"])
        // Properties not declared are allowed unless additionalProperties says otherwise.
        #expect(violations(schema, ["a": "x", "b": ["c": 1], "z": true]) == [])
    }

    @Test func additionalProperties() {
        let closed: JSONValue = ["type": "object", "properties": ["caption": ["type": "string"]], "additionalProperties": false]
        #expect(violations(closed, ["caption": "cat"]) == [])
        #expect(violations(closed, ["captoin": "cat"]) == ["/captoin: unknown property; did you mean 'caption'?"])
        #expect(violations(closed, ["zzz": 1]) == ["/zzz: unknown property"])
        let typed: JSONValue = ["type": "object", "additionalProperties": ["type": "number"]]
        #expect(violations(typed, ["a": 1, "b": 2.5]) == [])
        #expect(violations(typed, ["a": "1"]) == ["/a: expected number, found string \"1\""])
        #expect(violations(["type": "object", "additionalProperties": true], ["a": 1]) == [])
    }

    @Test func enumAndConst() {
        #expect(violations(["enum": ["eng", "deu", 1]], "deu") == [])
        #expect(violations(["enum": ["eng", "deu", 1]], 1.0) == [])
        #expect(violations(["enum": ["eng", "deu"]], "fra") == ["(root): \"fra\" is not one of \"eng\", \"deu\""])
        #expect(violations(["const": ["a": [1, 2]]], ["a": [1, 2]]) == [])
        #expect(violations(["const": "v1"], "v2") == ["(root): \"v2\" is not the constant \"v1\""])
    }

    @Test func numericBounds() {
        let schema: JSONValue = ["type": "number", "minimum": 0, "maximum": 1]
        #expect(violations(schema, 0) == [])
        #expect(violations(schema, 1) == [])
        #expect(violations(schema, 1.5, at: "/actions/0/API_params/box_threshold")
            == ["/actions/0/API_params/box_threshold: 1.5 is above the maximum 1"])
        #expect(violations(schema, -0.25) == ["(root): -0.25 is below the minimum 0"])
        let exclusive: JSONValue = ["type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 10]
        #expect(violations(exclusive, 5) == [])
        #expect(violations(exclusive, 0) == ["(root): 0 is not above the exclusive minimum 0"])
        #expect(violations(exclusive, 10) == ["(root): 10 is not below the exclusive maximum 10"])
    }

    @Test func stringLengthsCountCodePoints() {
        let schema: JSONValue = ["type": "string", "minLength": 2, "maxLength": 3]
        #expect(violations(schema, "ab") == [])
        #expect(violations(schema, "é猫") == [])
        #expect(violations(schema, "a") == ["(root): \"a\" is shorter than the minimum length 2"])
        #expect(violations(schema, "abcd") == ["(root): \"abcd\" is longer than the maximum length 3"])
    }

    @Test func patternIsUnanchored() {
        #expect(violations(["type": "string", "pattern": "[0-9]+"], "abc123") == [])
        #expect(violations(["type": "string", "pattern": "^[0-9]+$"], "abc123") == ["(root): \"abc123\" does not match the pattern ^[0-9]+$"])
        #expect(violations(["type": "string", "pattern": "^(line|block)$"], "block") == [])
    }

    @Test func itemsAndCounts() {
        let box: JSONValue = ["type": "array", "items": ["type": "number", "minimum": 0, "maximum": 1], "minItems": 4, "maxItems": 4]
        #expect(violations(box, [0, 0.1, 0.5, 1]) == [])
        #expect(violations(box, [0, 2, 0.5, "x"]) == ["/1: 2 is above the maximum 1", "/3: expected number, found string \"x\""])
        #expect(violations(box, [0]) == ["(root): has 1 item, fewer than the minimum 4"])
        #expect(violations(box, [0, 0, 0, 0, 0]) == ["(root): has 5 items, more than the maximum 4"])
        #expect(violations(["type": "array", "minItems": 1], []) == ["(root): has 0 items, fewer than the minimum 1"])
    }

    @Test func nestedPointersAreEscaped() {
        let schema: JSONValue = ["type": "object", "properties": ["a/b": ["type": "object", "properties": ["m~n": ["type": "string"]]]]]
        #expect(violations(schema, ["a/b": ["m~n": 1]]) == ["/a~1b/m~0n: expected string, found integer 1"])
    }

    @Test func defaultsAreAppliedAndReported() {
        let schema: JSONValue = [
            "type": "object",
            "properties": [
                "caption": ["type": "string"],
                "box_threshold": ["type": "number", "default": 0.3],
                "options": ["type": "object", "properties": ["nms": ["type": "boolean", "default": true]], "default": [:]],
                "languages": ["type": "array", "default": ["eng"]],
            ],
            "required": ["caption", "options"],
        ]
        let result = JSONSchemaValidator(schema: schema).validate(["caption": "cat", "languages": ["deu"]], at: "/p")
        #expect(result.violations == [])
        // `options` comes from its default, then its own default `nms` is applied inside it.
        #expect(result.value == ["caption": "cat", "languages": ["deu"], "box_threshold": 0.3, "options": ["nms": true]])
        #expect(result.appliedDefaults.map(\.description) == [
            "/p/box_threshold = 0.3 (default)",
            "/p/options = {} (default)",
            "/p/options/nms = true (default)",
        ])
        // Present values are never replaced.
        let explicit = JSONSchemaValidator(schema: schema).validate(["caption": "cat", "box_threshold": 0.9, "options": ["nms": false], "languages": []])
        #expect(explicit.appliedDefaults == [])
        #expect(explicit.value["box_threshold"] == 0.9)
    }

    @Test func imageArtifactFormatIsRecognised() {
        let schema: JSONValue = ["type": "object", "properties": ["image": ["type": "string", "format": "image-artifact"]]]
        #expect(violations(schema, ["image": "artifact://1"]) == [])
        #expect(violations(schema, ["image": 3]) == ["/image: expected string, found integer 3"])
    }

    @Test func allViolationsAreReported() {
        let schema: JSONValue = ["type": "object", "properties": ["a": ["type": "integer", "minimum": 5], "b": ["enum": ["x"]]], "required": ["c"], "additionalProperties": false]
        #expect(violations(schema, ["a": 1, "b": "y", "d": nil]) == [
            "/c: required property is missing",
            "/a: 1 is below the minimum 5",
            "/b: \"y\" is not one of \"x\"",
            "/d: unknown property",
        ])
    }
}

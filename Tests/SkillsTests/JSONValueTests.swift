import Testing
@testable import Skills

@Suite struct JSONValueTests {
    @Test func compactJSONIsDeterministic() {
        let value: JSONValue = ["b": [1, 2.5, nil, true], "a": "x\"y\n", "c": ["z": -3]]
        #expect(value.compactJSON == #"{"a":"x\"y\n","b":[1,2.5,null,true],"c":{"z":-3}}"#)
    }

    @Test func schemaTypes() {
        #expect(JSONValue.number(2).schemaType == "integer")
        #expect(JSONValue.number(2.5).schemaType == "number")
        #expect(JSONValue.null.schemaType == "null")
        #expect(JSONValue.number(1) == JSONValue.number(1.0))
    }

    @Test func pointers() {
        #expect(JSONPointer.appending("/a", "b/c~d") == "/a/b~1c~0d")
        #expect(JSONPointer.tokens("/a/b~1c~0d/0") == ["a", "b/c~d", "0"])
        #expect(JSONPointer.tokens("") == [])
        #expect(YAMLReader.field("examples[0].params", pointer: "/box/0/x") == "examples[0].params.box[0].x")
    }
}

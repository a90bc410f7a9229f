import Foundation
import Skills
import Testing
@testable import Agent

@Suite struct ToolCallCodecTests {
    static let frisbee = AssistantTurn(
        thoughts: "To find the frisbee, I need grounding_dino.",
        actions: [ToolCall(name: "grounding_dino", params: ["caption": "the frisbee ."])],
        value: "I will use grounding_dino to help to answer the question. Please wait for a moment.")

    @Test func llavaPlusRoundTrip() throws {
        let text = ToolCallCodec.render(Self.frisbee, format: .llavaPlus)
        #expect(text == """
            "thoughts🤔" To find the frisbee, I need grounding_dino.
            "actions🚀" [{"API_name": "grounding_dino", "API_params": {"caption": "the frisbee ."}}]
            "value👉" I will use grounding_dino to help to answer the question. Please wait for a moment.
            """)
        #expect(try ToolCallCodec.parse(text, format: .llavaPlus).get() == Self.frisbee)
    }

    @Test func jsonRoundTrip() throws {
        let text = ToolCallCodec.render(Self.frisbee, format: .json)
        #expect(text.hasPrefix(#"{"thoughts": "To find the frisbee, I need grounding_dino.", "actions": [{"API_name": "grounding_dino""#))
        #expect(try ToolCallCodec.parse(text, format: .json).get() == Self.frisbee)
        #expect(try JSONValue(parsing: text)["actions"]?.arrayValue?.count == 1, "the rendering is strict JSON")
    }

    /// Spellings seen from released checkpoints and chat models: Python literals, missing
    /// quotes, colons, no actions field, OpenAI-style names, fenced JSON.
    @Test(arguments: [
        (#""thoughts🤔" Need boxes. "actions🚀" [{'API_name': 'grounding_dino', 'API_params': {'caption': 'cat .', 'box_threshold': 0.3, 'crop': True}}] "value👉" Wait."#,
         AssistantTurn(thoughts: "Need boxes.", actions: [ToolCall(name: "grounding_dino", params: ["caption": "cat .", "box_threshold": 0.3, "crop": true])], value: "Wait.")),
        ("thoughts🤔: none needed\nactions🚀: []\nvalue👉: It is a cat.",
         AssistantTurn(thoughts: "none needed", value: "It is a cat.")),
        (#""thoughts" x "value" The answer is 4."#, AssistantTurn(thoughts: "x", value: "The answer is 4.")),
        ("The value of the coin is 5 cents.", AssistantTurn(value: "The value of the coin is 5 cents.")),
        (#""actions🚀" [{"API_name": "ocr", "API_params": {},}, ] and then I stop"#,
         AssistantTurn(actions: [ToolCall(name: "ocr", params: [:])], value: "")),
        (#""actions🚀" [{"name": "sam", "arguments": "{\"boxes\": [[0.1, 0.2, 0.3, 0.4]]}"}]"#,
         AssistantTurn(actions: [ToolCall(name: "sam", params: ["boxes": [[0.1, 0.2, 0.3, 0.4]]])], value: "")),
        (#""actions🚀" [{"API_name": "sam", "API_params": {"points": ((1, 2), (3, 4)), "label": None}}]"#,
         AssistantTurn(actions: [ToolCall(name: "sam", params: ["points": [[1, 2], [3, 4]], "label": nil])], value: "")),
    ])
    func llavaPlusVariants(text: String, expected: AssistantTurn) throws {
        #expect(try ToolCallCodec.parse(text, format: .llavaPlus).get() == expected)
    }

    @Test func jsonVariants() throws {
        let fenced = "Sure:\n```json\n{\"thoughts\": \"t\", \"actions\": [{\"API_name\": \"ocr\", \"API_params\": {\"lang\": \"en\"}}], \"value\": \"v\"}\n```"
        #expect(try ToolCallCodec.parse(fenced, format: .json).get()
            == AssistantTurn(thoughts: "t", actions: [ToolCall(name: "ocr", params: ["lang": "en"])], value: "v"))
        #expect(try ToolCallCodec.parse("Just an answer.", format: .json).get() == AssistantTurn(value: "Just an answer."))
        #expect(try ToolCallCodec.parse(#"{"value": "no tools"}"#, format: .json).get() == AssistantTurn(value: "no tools"))
    }

    @Test(arguments: [
        (ToolCallFormat.llavaPlus, #""actions🚀" [{"API_name": grounding_dino}]"#,
         #"actions🚀: 'grounding_dino' is not a literal at character 14; expected a list like [{"API_name": "...", "API_params": {...}}]"#),
        (.llavaPlus, #""actions🚀" [__import__('os').system('rm -rf /')]"#,
         #"actions🚀: '__import__' is not a literal at character 1; expected a list like [{"API_name": "...", "API_params": {...}}]"#),
        (.llavaPlus, #""actions🚀" {"API_name": "ocr"}"#, "/actions: expected a list of actions, found object"),
        (.llavaPlus, #""actions🚀" ["ocr"]"#, "/actions/0: expected an object with API_name and API_params, found string"),
        (.llavaPlus, #""actions🚀" [{"API_params": {}}]"#, "/actions/0/API_name: expected the skill's name as a non-empty string"),
        (.llavaPlus, #""actions🚀" [{"API_name": "ocr", "API_params": [1]}]"#, "/actions/0/API_params: expected an object, found array"),
        (.llavaPlus, #""actions🚀" [{"API_name": "ocr", "API_params": {"a": 1, "a": 2}}]"#,
         #"actions🚀: duplicate key 'a' at character 50; expected a list like [{"API_name": "...", "API_params": {...}}]"#),
        (.json, #"{"thoughts": 3, "actions": []}"#, "/thoughts: expected a string, found integer"),
        (.json, #"{"thoughts": "t", "actions": [{"API_name": "ocr", "API_params": {"#, "/: expected a quoted key or '}' at character 65 of the JSON object"),
    ])
    func malformedTurnsNameTheField(format: ToolCallFormat, text: String, message: String) {
        guard case .failure(let error) = ToolCallCodec.parse(text, format: format) else {
            Issue.record("parsed: \(text)")
            return
        }
        #expect(error.description == message)
    }

    @Test func nestingIsBounded() {
        let deep = "\"actions🚀\" " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        guard case .failure(let error) = ToolCallCodec.parse(deep, format: .llavaPlus) else {
            Issue.record("a 10,000-deep list parsed")
            return
        }
        #expect(error.message.hasPrefix("nested deeper than 32 levels"))
    }
}

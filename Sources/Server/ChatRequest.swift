import Agent
import Foundation
import Imaging
import Skills

/// An error as OpenAI-style APIs report it: a status and `{"error": {"message", "type", "param"}}`.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var message: String
    public var type: String
    /// The request field at fault (`messages[1].content[0].image_url`), if one is.
    public var param: String?

    public init(_ status: Int, _ message: String, type: String = "invalid_request_error", param: String? = nil) {
        (self.status, self.message, self.type, self.param) = (status, message, type, param)
    }

    /// A 400 about the field `param`: the message starts with the field's name.
    static func field(_ param: String, _ message: String) -> APIError {
        APIError(400, "\(param): \(message)", param: param)
    }

    public var description: String { "\(status) \(type): \(message)" }

    public var json: JSONValue {
        ["error": .object(["message": .string(message), "type": .string(type), "param": param.map(JSONValue.string) ?? .null])]
    }
}

/// A `POST /v1/chat/completions` body, checked field by field.
struct ChatRequest: Sendable {
    /// One turn with its images, in the order the parts gave them.
    struct Message: Sendable {
        var role: String
        /// The text, with a `<image>` placeholder where each image part was.
        var text: String
        var images: [RGBImage]
    }

    var model: String?
    var messages: [Message]
    var maxTokens: Int?
    var temperature: Float?
    var topP: Float?
    var seed: UInt64?
    var stop: [String]
    var stream: Bool
    var includeUsage: Bool
    /// The function tools the model may call (empty: none, or `tool_choice: "none"`).
    var tools: [ToolSpec]
    /// The turn must call a tool (`tool_choice: "required"` or a named function).
    var requireCall = false

    /// Most images in one request (each costs an encoder pass and its visual tokens).
    static let maxImages = 8

    /// Parses the body; errors name the byte offset (bad JSON) or the field (bad content).
    init(body: [UInt8]) throws(APIError) {
        let value: JSONValue
        do { value = try JSONValue(parsing: body) } catch {
            throw APIError(400, "the request body is not valid JSON: " + error.message.replacingOccurrences(of: "not JSON: ", with: ""))
        }
        guard let object = value.objectValue else {
            throw APIError(400, "the request body must be a JSON object, found \(value.schemaType)")
        }
        model = try Self.string(object, "model")
        let legacyMaxTokens = try Self.integer(object, "max_tokens", in: 1...1_000_000)
        maxTokens = try Self.integer(object, "max_completion_tokens", in: 1...1_000_000) ?? legacyMaxTokens
        temperature = try Self.number(object, "temperature", in: 0...2).map(Float.init)
        topP = try Self.number(object, "top_p", in: 0...1).map(Float.init)
        if let seed = try Self.integer(object, "seed", in: Int.min...Int.max) { self.seed = UInt64(bitPattern: Int64(seed)) }
        if let n = try Self.integer(object, "n", in: 1...128), n != 1 {
            throw APIError.field("n", "only n = 1 is supported (one choice per request)")
        }
        stream = try Self.bool(object, "stream") ?? false
        includeUsage = false
        if let options = object["stream_options"], options != .null {
            guard let fields = options.objectValue else { throw APIError.field("stream_options", "expected an object, found \(options.schemaType)") }
            includeUsage = try Self.bool(fields, "include_usage", path: "stream_options.include_usage") ?? false
        }
        switch object["stop"] {
        case nil, .null?: stop = []
        case .string(let text)?: stop = [text]
        case .array(let items)?:
            stop = try items.enumerated().map { (index, item) throws(APIError) -> String in
                guard let text = item.stringValue else { throw APIError.field("stop[\(index)]", "expected a string, found \(item.schemaType)") }
                return text
            }
            guard stop.count <= 4 else { throw APIError.field("stop", "at most 4 stop sequences, found \(stop.count)") }
        case let other?: throw APIError.field("stop", "expected a string or a list of strings, found \(other.schemaType)")
        }
        guard let list = object["messages"] else { throw APIError(400, "messages: required", param: "messages") }
        guard let items = list.arrayValue, !items.isEmpty else {
            throw APIError.field("messages", list.arrayValue == nil ? "expected a list of messages, found \(list.schemaType)" : "expected at least one message")
        }
        tools = try Self.tools(object["tools"])
        if let choice = object["tool_choice"], choice != .null {
            switch choice {
            case "none": tools = []
            case "auto": break
            case "required": requireCall = !tools.isEmpty
            case .object:
                // A named function: the only tool the grammar offers, and it must be called.
                guard let name = choice["function"]?["name"]?.stringValue, let tool = tools.first(where: { $0.name == name }) else {
                    throw APIError.field("tool_choice", "names no function among the tools")
                }
                (tools, requireCall) = ([tool], true)
            default: throw APIError.field("tool_choice", "expected \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}")
            }
        }
        var toolNames: [String: String] = [:]  // tool_call id -> function name, for tool messages
        messages = []
        var imageCount = 0
        for (index, item) in items.enumerated() {
            let message = try Self.message(item, at: "messages[\(index)]", toolNames: &toolNames)
            imageCount += message.images.count
            guard imageCount <= Self.maxImages else {
                throw APIError.field("messages[\(index)]", "at most \(Self.maxImages) images per request")
            }
            messages.append(message)
        }
    }

    // MARK: - Messages

    private static func message(_ item: JSONValue, at path: String, toolNames: inout [String: String]) throws(APIError) -> Message {
        guard let object = item.objectValue else { throw APIError.field(path, "expected a message object, found \(item.schemaType)") }
        guard let role = try string(object, "role", path: "\(path).role") else { throw APIError.field("\(path).role", "required") }
        let content = object["content"]
        switch role {
        case "system", "developer", "user":
            let (text, images) = try parts(content, at: "\(path).content", allowImages: role == "user")
            return Message(role: role == "developer" ? "system" : role, text: text, images: images)
        case "assistant":
            var text = ""
            if let content, content != .null { text = try parts(content, at: "\(path).content", allowImages: false).text }
            guard let calls = object["tool_calls"], calls != .null else { return Message(role: role, text: text, images: []) }
            guard let list = calls.arrayValue else { throw APIError.field("\(path).tool_calls", "expected a list, found \(calls.schemaType)") }
            var actions: [ToolCall] = []
            for (index, call) in list.enumerated() {
                let at = "\(path).tool_calls[\(index)]"
                guard let function = call["function"]?.objectValue, let name = function["name"]?.stringValue else {
                    throw APIError.field(at, "expected {\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\"}}")
                }
                var arguments = JSONValue.object([:])
                if let encoded = function["arguments"]?.stringValue, !encoded.isEmpty {
                    do { arguments = try JSONValue(parsing: encoded) } catch {
                        throw APIError.field("\(at).function.arguments", "not a JSON object: \(error.message)")
                    }
                } else if let given = function["arguments"], given.objectValue != nil {
                    arguments = given
                }
                if let id = call["id"]?.stringValue { toolNames[id] = name }
                actions.append(ToolCall(name: name, params: arguments))
            }
            // The model sees its own calls in the format it writes them.
            let thoughts = object["reasoning_content"]?.stringValue ?? ""
            return Message(role: role, text: ToolCallCodec.render(AssistantTurn(thoughts: thoughts, actions: actions, value: text), format: .json),
                           images: [])
        case "tool":
            let text = try parts(content, at: "\(path).content", allowImages: false).text
            let name = object["tool_call_id"]?.stringValue.flatMap { toolNames[$0] } ?? object["name"]?.stringValue ?? "tool"
            return Message(role: "user", text: "\(name) output: \(text)", images: [])
        default:
            throw APIError.field("\(path).role", "unknown role '\(role)' (expected system, developer, user, assistant or tool)")
        }
    }

    /// The text of a content (a string or a list of parts) with a placeholder per image.
    private static func parts(_ content: JSONValue?, at path: String, allowImages: Bool) throws(APIError) -> (text: String, images: [RGBImage]) {
        switch content {
        case .string(let text)?: return (neutralised(text), [])
        case .array(let parts)?:
            var text = ""
            var images: [RGBImage] = []
            for (index, part) in parts.enumerated() {
                let at = "\(path)[\(index)]"
                guard let object = part.objectValue, let type = object["type"]?.stringValue else {
                    throw APIError.field(at, "expected a content part {\"type\": \"text\" | \"image_url\", ...}")
                }
                switch type {
                case "text":
                    guard let value = object["text"]?.stringValue else { throw APIError.field("\(at).text", "expected a string") }
                    text += neutralised(value)
                case "image_url":
                    guard allowImages else { throw APIError.field(at, "images are only accepted in user messages") }
                    let url = object["image_url"]?["url"]?.stringValue ?? object["image_url"]?.stringValue
                    guard let url else { throw APIError.field("\(at).image_url", "expected {\"url\": \"data:image/png;base64,...\"}") }
                    images.append(try image(url, at: "\(at).image_url"))
                    text += "<image>\n"
                default:
                    throw APIError.field("\(at).type", "unsupported content part '\(type)' (expected text or image_url)")
                }
            }
            return (text, images)
        case nil, .null?: throw APIError.field(path, "required")
        case let other?: throw APIError.field(path, "expected a string or a list of content parts, found \(other.schemaType)")
        }
    }

    /// `<image>` typed by a client would stand for an image it did not send.
    private static func neutralised(_ text: String) -> String {
        text.replacingOccurrences(of: "<image>", with: "<image >")
    }

    /// A `data:image/png;base64,...` or `data:image/jpeg;base64,...` URL, decoded.
    static func image(_ url: String, at path: String) throws(APIError) -> RGBImage {
        let lowered = url.prefix(16).lowercased()
        if lowered.hasPrefix("http://") || lowered.hasPrefix("https://") {
            throw APIError.field(path, "image URLs are not fetched by this server; send the image inline as a data: URL "
                + "(data:image/png;base64,... or data:image/jpeg;base64,...)")
        }
        guard lowered.hasPrefix("data:"), let comma = url.firstIndex(of: ",") else {
            throw APIError.field(path, "expected a data: URL (data:image/png;base64,... or data:image/jpeg;base64,...)")
        }
        let header = url[url.index(url.startIndex, offsetBy: 5)..<comma].lowercased()
        let fields = header.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let type = fields.first, ["image/png", "image/jpeg", "image/jpg"].contains(type) else {
            throw APIError.field(path, "unsupported image type '\(fields.first ?? "")' (expected image/png or image/jpeg)")
        }
        guard fields.contains("base64") else { throw APIError.field(path, "expected base64 data (data:\(type);base64,...)") }
        guard let data = Data(base64Encoded: String(url[url.index(after: comma)...]), options: .ignoreUnknownCharacters), !data.isEmpty else {
            throw APIError.field(path, "the data is not valid base64")
        }
        do { return try RGBImage(decoding: data, name: "image") } catch {
            throw APIError.field(path, "not a readable \(type == "image/png" ? "PNG" : "JPEG") image: \(error)")
        }
    }

    // MARK: - Tools

    private static func tools(_ value: JSONValue?) throws(APIError) -> [ToolSpec] {
        guard let value, value != .null else { return [] }
        guard let list = value.arrayValue else { throw APIError.field("tools", "expected a list of tools, found \(value.schemaType)") }
        var tools: [ToolSpec] = []
        for (index, item) in list.enumerated() {
            let at = "tools[\(index)]"
            guard item["type"]?.stringValue == "function", let function = item["function"]?.objectValue else {
                throw APIError.field(at, "expected {\"type\": \"function\", \"function\": {\"name\", \"description\", \"parameters\"}}")
            }
            guard let name = function["name"]?.stringValue,
                  name.wholeMatch(of: #/[A-Za-z0-9_-]{1,64}/#) != nil else {
                throw APIError.field("\(at).function.name", "expected a name of 1 to 64 letters, digits, _ or -")
            }
            guard !tools.contains(where: { $0.name == name }) else { throw APIError.field("\(at).function.name", "'\(name)' is given twice") }
            let parameters = function["parameters"] ?? ["type": "object", "properties": .object([:])]
            guard parameters.objectValue != nil else {
                throw APIError.field("\(at).function.parameters", "expected a JSON Schema object, found \(parameters.schemaType)")
            }
            tools.append(ToolSpec(name: name, description: function["description"]?.stringValue ?? "", parameters: parameters))
        }
        return tools
    }

    // MARK: - Typed fields

    private static func string(_ object: [String: JSONValue], _ key: String, path: String? = nil) throws(APIError) -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        case let other?: throw APIError.field(path ?? key, "expected a string, found \(other.schemaType)")
        }
    }

    private static func bool(_ object: [String: JSONValue], _ key: String, path: String? = nil) throws(APIError) -> Bool? {
        switch object[key] {
        case nil, .null?: return nil
        case .bool(let flag)?: return flag
        case let other?: throw APIError.field(path ?? key, "expected true or false, found \(other.schemaType)")
        }
    }

    private static func number(_ object: [String: JSONValue], _ key: String, in range: ClosedRange<Double>) throws(APIError) -> Double? {
        switch object[key] {
        case nil, .null?: return nil
        case .number(let value)?:
            guard range.contains(value) else { throw APIError.field(key, "\(JSONValue.number(value).compactJSON) is outside \(JSONValue.number(range.lowerBound).compactJSON)..\(JSONValue.number(range.upperBound).compactJSON)") }
            return value
        case let other?: throw APIError.field(key, "expected a number, found \(other.schemaType)")
        }
    }

    private static func integer(_ object: [String: JSONValue], _ key: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        switch object[key] {
        case nil, .null?: return nil
        case .number(let value)?:
            guard value.rounded() == value, let exact = Int(exactly: value) else { throw APIError.field(key, "expected an integer, found \(JSONValue.number(value).compactJSON)") }
            guard range.contains(exact) else { throw APIError.field(key, "\(exact) is outside \(range.lowerBound)..\(range.upperBound)") }
            return exact
        case let other?: throw APIError.field(key, "expected an integer, found \(other.schemaType)")
        }
    }
}

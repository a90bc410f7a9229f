import Foundation
import Skills

/// A skill that the `llava-plus-skills` worker serves: one call's parameters in, its result out.
public protocol WorkerSkill {
    /// The result object for one call. Throw `SkillInputError` for input the skill rejects (the
    /// model sees it as a tool error); any other error is a bug and ends the worker.
    /// - Parameter outputDirectory: where the call may write new files (artifacts).
    func callAsFunction(_ params: [String: JSONValue], outputDirectory: URL) throws -> JSONValue
}

/// Input a skill refuses; the message names the parameter and what was expected.
public struct SkillInputError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The subprocess skill protocol (README, "Skills"), as the Python skills' `protocol.py` speaks
/// it. One-shot when the runner sets `LLAVA_PLUS_OUTPUT_DIR`: parameters as one JSON object on
/// stdin, the answer as one JSON object on stdout. Persistent otherwise: one request per line
/// (`{"id", "params", "output_dir"}`), one answer per line with the same id, models kept loaded.
public enum SkillWorker {
    static let outputDirectoryVariable = "LLAVA_PLUS_OUTPUT_DIR"

    /// Serves `skill` until stdin ends. Returns the process exit status.
    public static func serve(_ skill: some WorkerSkill) -> Int32 {
        if let folder = ProcessInfo.processInfo.environment[outputDirectoryVariable], !folder.isEmpty {
            let input = FileHandle.standardInput.readDataToEndOfFile()
            return write(answer(skill, params: try? JSONValue(parsing: input), folder: URL(fileURLWithPath: folder)))
        }
        while let line = readLine(strippingNewline: true) {
            guard !line.allSatisfy(\.isWhitespace) else { continue }
            guard let request = try? JSONValue(parsing: line), let id = request["id"] else {
                FileHandle.standardError.write(Data("llava-plus-skills: malformed request line: \(line.prefix(200))\n".utf8))
                return 2
            }
            guard let folder = request["output_dir"]?.stringValue else {
                FileHandle.standardError.write(Data("llava-plus-skills: request \(id) has no output_dir\n".utf8))
                return 2
            }
            var reply = answer(skill, params: request["params"], folder: URL(fileURLWithPath: folder))
            guard case .object(var members) = reply else { return 1 }
            members["id"] = id
            reply = .object(members)
            if write(reply) != 0 { return 1 }
        }
        return 0
    }

    /// One call's answer; a bug (an error other than `SkillInputError`) exits the process so
    /// that the runner reports a crash instead of blaming the input.
    static func answer(_ skill: some WorkerSkill, params: JSONValue?, folder: URL) -> JSONValue {
        guard let params = params?.objectValue else {
            return .object(["error": .string("expected the parameters as one JSON object")])
        }
        do {
            return try skill(params, outputDirectory: folder)
        } catch let error as SkillInputError {
            return .object(["error": .string(error.message)])
        } catch {
            FileHandle.standardError.write(Data("llava-plus-skills: \(error)\n".utf8))
            exit(1)
        }
    }

    private static func write(_ value: JSONValue) -> Int32 {
        let line = Data((value.compactJSON + "\n").utf8)
        do { try FileHandle.standardOutput.write(contentsOf: line) } catch { return 1 }
        return 0
    }
}

// The worker process of the Swift built-in skills: `llava-plus-skills SKILL` speaks the
// subprocess skill protocol (one-shot or persistent, see `SkillWorker`) for one skill, with
// its models loaded once. The skills' manifests start it through skills/swift/run.sh.
import BuiltinSkills
import Foundation
import ModelStore

let skills: [String: (ModelStore) throws -> any WorkerSkill] = [
    "tag": { try TagSkill(store: $0) },
    "detect": { try DetectSkill(store: $0) },
    "retrieve": { try RetrieveSkill(store: $0) },
]

let arguments = CommandLine.arguments.dropFirst()
guard arguments.count == 1, let name = arguments.first, let make = skills[name] else {
    FileHandle.standardError.write(Data("usage: llava-plus-skills \(skills.keys.sorted().joined(separator: "|"))\n".utf8))
    exit(2)
}
do {
    exit(SkillWorker.serve(try make(try ModelStore.locate())))
} catch {
    FileHandle.standardError.write(Data("llava-plus-skills \(name): cannot start: \(error)\n".utf8))
    exit(1)
}

import Foundation
import Imaging
import ModelStore
import Skills

/// The `detect` skill (Grounding DINO's job and output format): boxes, scores ("logits") and
/// phrases for the phrases of a caption. Phrases about faces and people go to the Haar-cascade
/// detectors (ImageNet has no person class); the rest to the ImageNet-based `ObjectDetector`.
public struct DetectSkill: WorkerSkill, Sendable {
    let objects: ObjectDetector
    let people: PersonDetector
    /// At most this many phrases per call: each costs a pass over the image.
    static let maxPhrases = 8

    /// Words that make a phrase ask for faces, or for people.
    static let faceWords: Set<String> = ["face", "faces", "head", "heads"]
    static let personWords: Set<String> = [
        "person", "persons", "people", "man", "men", "woman", "women", "boy", "boys", "girl", "girls", "child", "children",
        "kid", "kids", "human", "humans", "lady", "guy", "astronaut", "pedestrian", "player", "someone", "somebody",
    ]

    public init(store: ModelStore) throws {
        objects = try ObjectDetector(store: store)
        people = try PersonDetector(cascades: store.folder(of: "opencv-cascades"))
    }

    /// Which detector answers `phrase`.
    public enum Route: Sendable { case faces, people, objects }
    public static func route(_ phrase: String) -> Route {
        let words = Set(phrase.lowercased().split(whereSeparator: { !$0.isLetter }).map(String.init))
        if !words.isDisjoint(with: faceWords) { return .faces }
        if !words.isDisjoint(with: personWords) { return .people }
        return .objects
    }

    public func callAsFunction(_ values: [String: JSONValue], outputDirectory: URL) throws -> JSONValue {
        let params = Parameters(values)
        let caption = try params.text("caption")
        let phrases = ObjectDetector.phrases(in: caption)
        guard !phrases.isEmpty else { throw SkillInputError("caption: expected phrases separated by \" . \", got \(JSONValue.string(caption).compactJSON)") }
        guard phrases.count <= Self.maxPhrases else {
            throw SkillInputError("caption: at most \(Self.maxPhrases) phrases per call, got \(phrases.count)")
        }
        let threshold = Float(try params.number("box_threshold", in: 0...1, default: 0.3))
        let limit = try params.integer("max_boxes", in: 1...50, default: 10)
        let image = try params.image()

        var detections: [Detection] = []
        let generic = phrases.filter { Self.route($0) == .objects }
        let matched = zip(generic, objects.classes(for: generic)).map { (phrase: $0, classes: $1.map(\.classIndex)) }
        let unmatched = matched.filter(\.classes.isEmpty).map(\.phrase)
        detections += objects.detect(image, phrases: matched, threshold: threshold, limit: limit)
        let special = phrases.filter { Self.route($0) != .objects }
        if !special.isEmpty {
            let found = people.detectWithFaces(image, minScore: threshold)
            for phrase in special {
                let boxes = Self.route(phrase) == .faces ? found.faces : found.people
                detections += boxes.map { Detection(box: $0.box, score: $0.score, phrase: phrase) }
            }
        }
        detections = Array(detections.sorted { $0.score > $1.score }.prefix(limit))
        var result: [String: JSONValue] = [
            "boxes": .array(detections.map { d in .array([d.box.x0, d.box.y0, d.box.x1, d.box.y1].map(rounded2)) }),
            "logits": .array(detections.map { rounded2($0.score) }),
            "phrases": .array(detections.map { .string($0.phrase) }),
        ]
        if !unmatched.isEmpty { result["unmatched"] = .array(unmatched.map(JSONValue.string)) }
        return .object(result)
    }
}

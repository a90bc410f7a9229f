import BuiltinSkills
import Foundation
import Imaging
import ModelStore
import Skills
import Testing

/// The `detect` skill's parts: phrases to ImageNet classes (MiniLM), and boxes on real photos.
@Suite(.serialized) struct DetectionTests {
    static let detector = Result { try ObjectDetector(store: try ModelStore.locate(searchFrom: [BuiltinSkillsTests.root])) }

    /// Free words find the classes they mean; nonsense finds none.
    @Test func phrasesFindTheirClasses() throws {
        let detector = try Self.detector.get()
        let phrases = ["kitty", "cat", "cup", "coffee", "motorcycle", "horse", "dog", "car", "zebra", "qwxzv", "idea"]
        let classes = detector.classes(for: phrases)
        for (phrase, found) in zip(phrases, classes) {
            print("\(phrase) -> " + found.prefix(8).map { "\(detector.vocabulary.names[$0.classIndex]) \(String(format: "%.2f", $0.similarity))" }.joined(separator: ", "))
        }
        func names(_ phrase: String) -> Set<String> { Set(classes[phrases.firstIndex(of: phrase)!].map { detector.vocabulary.names[$0.classIndex] }) }
        #expect(names("kitty").contains("tabby cat"))
        #expect(names("cat").isSuperset(of: ["tabby cat", "Persian cat", "Siamese cat"]))
        #expect(names("cup").contains("tea cup"))  // ImageNet's "cup" class
        #expect(names("coffee").contains("coffee mug"))  // not "espresso": MiniLM puts it 0.23 below
        #expect(names("horse").contains("common sorrel horse"))
        #expect(names("zebra") == ["zebra"])
        #expect(names("qwxzv").isEmpty)
    }
}

extension DetectionTests {
    static let skill = Result { try DetectSkill(store: try ModelStore.locate(searchFrom: [BuiltinSkillsTests.root])) }

    /// Precision and recall at IoU 0.5 on the hand-made ground truth (Fixtures/detection.json),
    /// asking for every labelled phrase of an image in one caption, as a model would.
    @Test func precisionAndRecallOnTheGroundTruth() throws {
        let skill = try Self.skill.get()
        let truth = try BuiltinSkillsTests.json("detection.json")
        var (truePositives, falsePositives, falseNegatives) = ([String: Int](), [String: Int](), [String: Int]())
        var catIoU: Float = 0
        for item in truth["images"]?.arrayValue ?? [] {
            let path = try #require(item["image"]?.stringValue)
            let url = BuiltinSkillsTests.store.appendingPathComponent(path)
            let image = try RGBImage(contentsOf: url)
            let objects = (item["objects"]?.arrayValue ?? []).compactMap { object -> (String, Box)? in
                guard let phrase = object["phrase"]?.stringValue, let b = object["box"]?.arrayValue?.compactMap(\.numberValue), b.count == 4 else { return nil }
                return (phrase, Box(pixels: Float(b[0]), Float(b[1]), Float(b[2]), Float(b[3]), width: image.width, height: image.height))
            }
            let phrases = Array(Set(objects.map(\.0))).sorted()
            let clock = ContinuousClock.now
            let result = try skill(["image": .string(url.path), "caption": .string(phrases.joined(separator: " . "))],
                                   outputDirectory: FileManager.default.temporaryDirectory)
            let elapsed = ContinuousClock.now - clock
            let boxes = (result["boxes"]?.arrayValue ?? []).map { b -> Box in
                let v = (b.arrayValue ?? []).compactMap(\.numberValue).map(Float.init)
                return Box(x0: v[0], y0: v[1], x1: v[2], y1: v[3])
            }
            let found = zip(boxes, (result["phrases"]?.arrayValue ?? []).compactMap(\.stringValue)).map { ($1, $0) }
            var lines: [String] = []
            for phrase in phrases {
                let kind = DetectSkill.route(phrase) == .objects ? "objects" : "faces/people"
                var unmatched = objects.filter { $0.0 == phrase }.map(\.1)
                for (_, box) in found.filter({ $0.0 == phrase }) {
                    if let best = unmatched.indices.max(by: { unmatched[$0].iou(box) < unmatched[$1].iou(box) }), unmatched[best].iou(box) >= 0.5 {
                        if phrase == "cat" { catIoU = unmatched[best].iou(box) }
                        unmatched.remove(at: best)
                        truePositives[kind, default: 0] += 1
                    } else {
                        falsePositives[kind, default: 0] += 1
                    }
                }
                falseNegatives[kind, default: 0] += unmatched.count
                lines.append("\(phrase): \(found.filter { $0.0 == phrase }.map { "\($0.1)" }.joined(separator: " "))")
            }
            print("\(path) (\(elapsed)): " + lines.joined(separator: "; ") + ((result["unmatched"]).map { " unmatched \($0.compactJSON)" } ?? ""))
        }
        var figures: [String: (precision: Double, recall: Double)] = [:]
        for kind in ["objects", "faces/people"] {
            let tp = truePositives[kind, default: 0], fp = falsePositives[kind, default: 0], fn = falseNegatives[kind, default: 0]
            figures[kind] = (Double(tp) / Double(max(1, tp + fp)), Double(tp) / Double(max(1, tp + fn)))
            print(String(format: "detect, %@: precision %d/%d = %.2f, recall %d/%d = %.2f at IoU 0.5", kind, tp, tp + fp,
                         figures[kind]!.precision, tp, tp + fn, figures[kind]!.recall))
        }
        #expect(catIoU >= 0.5, "chelsea's cat")
        // Floors just under the measured figures (objects 2/5 precise, 2/17 found: ImageNet has
        // no class for saucers, flags or shapes, calls a cup of coffee an espresso and cannot
        // tell the horse's silhouette; faces and people 4/4 and 4/4 on two photos).
        #expect(figures["objects"]!.precision >= 0.4 && figures["objects"]!.recall >= 0.1)
        #expect(figures["faces/people"]!.precision >= 1 && figures["faces/people"]!.recall >= 1)
    }
}

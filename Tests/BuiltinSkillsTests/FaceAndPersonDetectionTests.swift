import BuiltinSkills
import Foundation
import Imaging
import ModelStore
import Testing

/// FaceDetector and PersonDetector against the hand-labelled boxes of Fixtures/detection.json
/// (see detection.md): precision and recall at IoU 0.5 for "face" and "person" over every
/// image there (photos with and without people, easy-vqa shapes). The floors are the measured
/// figures: with two faces and two people in the set, any miss or false detection is a real
/// regression, so they are exact rather than loosened.
@Suite(.serialized) struct FaceAndPersonDetectionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let store = Result { try ModelStore.locate(searchFrom: [root]) }

    struct Labelled: Decodable {
        struct Object: Decodable { let phrase: String; let box: [Float] }
        let image: String
        let objects: [Object]
    }

    static func groundTruth() throws -> [Labelled] {
        struct File: Decodable { let images: [Labelled] }
        let url = root.appendingPathComponent("Tests/BuiltinSkillsTests/Fixtures/detection.json")
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).images
    }

    /// Greedy matching at IoU 0.5, best score first: (true positives, detections, labelled objects, IoU per labelled object).
    static func match(_ found: [Detection], _ truth: [Box]) -> (hits: Int, ious: [Float]) {
        var unmatched = Array(truth.indices), hits = 0
        var ious = [Float](repeating: 0, count: truth.count)
        for detection in found.sorted(by: { $0.score > $1.score }) {
            for t in truth.indices { ious[t] = max(ious[t], detection.box.iou(truth[t])) }
            if let best = unmatched.max(by: { detection.box.iou(truth[$0]) < detection.box.iou(truth[$1]) }),
               detection.box.iou(truth[best]) >= 0.5 {
                hits += 1
                unmatched.removeAll { $0 == best }
            }
        }
        return (hits, ious)
    }

    @Test func precisionAndRecallOnTheGroundTruth() throws {
        let store = try Self.store.get()
        let cascades = try store.url(of: "opencv-cascades")
        let faces = try FaceDetector(cascades: cascades), people = try PersonDetector(cascades: cascades)
        var tally: [String: (hits: Int, found: Int, labelled: Int)] = ["face": (0, 0, 0), "person": (0, 0, 0)]
        // Every candidate, however weak: what the 0.5 score floor removes.
        var unfiltered: [String: (hits: Int, found: Int)] = ["face": (0, 0), "person": (0, 0)]
        var milliseconds = 0.0
        for item in try Self.groundTruth() {
            let image = try RGBImage(contentsOf: store.root.appendingPathComponent(item.image))
            let start = Date()
            let all = people.detectWithFaces(image, minScore: 0)
            milliseconds += Date().timeIntervalSince(start) * 1000
            #expect(faces.detect(image) == all.faces.filter { $0.score >= 0.5 })
            for (phrase, candidates) in [("face", all.faces), ("person", all.people)] {
                let found = candidates.filter { $0.score >= 0.5 }
                let truth = item.objects.filter { $0.phrase == phrase }
                    .map { Box(pixels: $0.box[0], $0.box[1], $0.box[2], $0.box[3], width: image.width, height: image.height) }
                unfiltered[phrase]!.hits += Self.match(candidates, truth).hits
                unfiltered[phrase]!.found += candidates.count
                let (hits, ious) = Self.match(found, truth)
                tally[phrase]!.hits += hits
                tally[phrase]!.found += found.count
                tally[phrase]!.labelled += truth.count
                if !found.isEmpty || !truth.isEmpty {
                    print("\(item.image) \(phrase): found \(found.map { "\($0.box) \(String(format: "%.2f", $0.score))" }), "
                          + "best IoU per labelled \(ious.map { String(format: "%.2f", $0) })")
                }
                if item.image == "skimage-data/astronaut.png" || item.image == "skimage-data/camera.png" {
                    #expect(hits == truth.count, "\(item.image): \(phrase) missed (IoU \(ious))")
                }
            }
        }
        for (phrase, t) in tally.sorted(by: { $0.key < $1.key }) {
            let precision = Double(t.hits) / Double(max(1, t.found)), recall = Double(t.hits) / Double(max(1, t.labelled))
            print("\(phrase): precision \(t.hits)/\(t.found) = \(String(format: "%.2f", precision)), "
                  + "recall \(t.hits)/\(t.labelled) = \(String(format: "%.2f", recall)) at IoU 0.5 and score >= 0.5; "
                  + "every candidate: \(unfiltered[phrase]!.hits) right of \(unfiltered[phrase]!.found)")
            #expect(precision >= 1 && recall >= 1, "\(phrase)")
        }
        print("faces + people (detectWithFaces): \(Int(milliseconds)) ms for \(try Self.groundTruth().count) images")
    }
}

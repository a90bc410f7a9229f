import Foundation
import Imaging
import Skills
import Testing

/// The built-in skills (ocr, segment, edit in Python; tag, detect, retrieve in the Swift
/// worker), called as the agent calls them: through the
/// skill runner with the project's registry (manifests/), persistent processes in the
/// project's .venv and the model store. Quality is measured against the hand-made ground
/// truth in Fixtures/ (see ocr.json and segmentation.json for how it was made and why each
/// floor is where it is). Needs scripts/setup.sh to have run (.venv and models/).
@Suite(.serialized) struct BuiltinSkillsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtures = root.appendingPathComponent("Tests/BuiltinSkillsTests/Fixtures")
    static let store = ProcessInfo.processInfo.environment["LLAVA_PLUS_MODELS"].map { URL(fileURLWithPath: $0) }
        ?? root.appendingPathComponent("models")

    /// One runner for the suite, so each skill's process starts (and loads its model) once.
    static let runner = SkillRunner(registry: SkillRegistry.discover(in: [root.appendingPathComponent("manifests")]),
                                    artifacts: try! ArtifactStore.temporary())

    /// A fixture image, or one from the model store.
    static func image(_ relative: String) -> URL {
        let local = fixtures.appendingPathComponent(relative)
        return FileManager.default.fileExists(atPath: local.path) ? local : store.appendingPathComponent(relative)
    }

    static func json(_ name: String) throws -> JSONValue {
        try JSONValue(parsing: Data(contentsOf: fixtures.appendingPathComponent(name)))
    }

    /// Calls `skill` on `image` (added to the conversation's artifacts) and returns its result
    /// and the call's milliseconds (printed with the figures; scripts/eval_skills.py measures
    /// warm latency properly).
    static func call(_ skill: String, image: URL, _ params: [String: JSONValue]) async throws -> (JSONValue, Double) {
        var params = params
        params["image"] = .string(try runner.artifacts.add(contentsOf: image).id)
        let outcome = await runner.call(skill, params: .object(params))
        return (try outcome.result.get(), outcome.record.milliseconds)
    }

    static func artifactURL(_ result: JSONValue, _ index: Int = 0) throws -> URL {
        let id = try #require(result["artifacts"]?.arrayValue?[index]["id"]?.stringValue)
        return try #require(runner.artifacts.artifact(id)).url
    }

    @Test func manifestExamplesPass() async throws {
        for name in ["ocr", "segment", "edit", "tag", "detect", "retrieve"] {
            let manifest = try #require(Self.runner.registry.manifest(named: name), "manifests/\(name).yaml did not load")
            for outcome in await ExampleCheck.run(manifest, with: Self.runner) {
                #expect(outcome.passed, "\(name): \(outcome.example.request): \(outcome.failures.joined(separator: "; "))")
            }
        }
    }

    @Test func ocrCharacterErrorRates() async throws {
        for item in try Self.json("ocr.json")["cases"]?.arrayValue ?? [] {
            let file = try #require(item["image"]?.stringValue)
            let reference = try #require(item["text"]?.stringValue)
            for (engine, ceiling) in try #require(item["max_cer"]?.objectValue).sorted(by: { $0.key < $1.key }) {
                let (result, ms) = try await Self.call("easyocr", image: Self.image(file), ["engine": .string(engine)])
                let text = try #require(result["text"]?.stringValue)
                let rate = Metrics.characterErrorRate(text, reference: reference)
                print(String(format: "ocr %@ %@: CER %.1f%% (floor %.0f%%), %.0f ms", file, engine, rate * 100,
                             (ceiling.numberValue ?? 0) * 100, ms))
                #expect(rate <= ceiling.numberValue ?? 0, "\(file) with \(engine) read \(text.debugDescription)")
                #expect(result["texts"]?.arrayValue?.count == result["boxes"]?.arrayValue?.count)
            }
        }
    }

    @Test func segmentationIoU() async throws {
        let fixture = try Self.json("segmentation.json")
        for item in fixture["cases"]?.arrayValue ?? [] {
            let name = try #require(item["name"]?.stringValue)
            let object = try #require(item["object"]?.stringValue)
            let file = try #require(fixture["objects"]?[object]?["image"]?.stringValue)
            let prompt = try #require(item["prompt"]?.objectValue)
            let (result, ms) = try await Self.call("sam", image: Self.image(file), prompt)
            let reference = try Metrics.mask(png: Self.fixtures.appendingPathComponent("masks/\(object).png"))
            let rle = try #require(result["masks"]?.arrayValue?.first)
            let found = try #require(Metrics.decodeRLE(rle), "mask 0 is not compact COCO RLE: \(rle.compactJSON.prefix(80))")
            // The PNG artifact, the RLE and the area must describe the same mask.
            #expect(try Metrics.mask(png: Self.artifactURL(result)) == found)
            #expect(result["areas"]?.arrayValue?.first?.numberValue == Double(found.filter { $0 }.count))
            let iou = Metrics.iou(found, reference)
            let floor = item["min_iou"]?.numberValue ?? 1
            // What a skill that only filled the prompt's box would score: the floor must be above it.
            var filled = ""
            if let box = prompt["boxes"]?.arrayValue?.first?.arrayValue?.compactMap(\.numberValue),
               let size = result["size"]?.arrayValue?.compactMap(\.numberValue) {
                let boxIoU = Metrics.iou(Metrics.mask(box: box, height: Int(size[0]), width: Int(size[1])), reference)
                filled = String(format: ", the box alone %.2f", boxIoU)
                #expect(floor > boxIoU, "\(name): the floor \(floor) does not beat filling the box (\(boxIoU))")
            }
            print(String(format: "segment %@: IoU %.2f (floor %.2f%@), %.0f ms", name, iou, floor, filled, ms))
            #expect(iou >= floor, "\(name): IoU \(iou) < \(floor)")
        }
    }

    @Test func editResultsAreExact() async throws {
        let photo = Self.image("skimage-data/coffee.png")
        let source = try RGBImage(contentsOf: photo)

        let (flipped, _) = try await Self.call("edit", image: photo, ["op": "flip"])
        let mirror = try RGBImage(contentsOf: Self.artifactURL(flipped))
        #expect(mirror.width == source.width && mirror.height == source.height)
        #expect((0..<source.height).allSatisfy { y in
            (0..<source.width).allSatisfy { x in mirror[x: x, y: y] == source[x: source.width - 1 - x, y: y] }
        })

        let (cropped, _) = try await Self.call("edit", image: photo, ["op": "crop", "box": [0.25, 0.5, 0.75, 1.0]])
        let crop = try RGBImage(contentsOf: Self.artifactURL(cropped))
        #expect(crop.width == 300 && crop.height == 200)
        #expect(crop[x: 10, y: 20] == source[x: 160, y: 220])
        #expect(cropped["artifacts"]?.arrayValue?.first?["box"] == [0.25, 0.5, 0.75, 1.0])

        let (grey, _) = try await Self.call("instruct-pix2pix", image: photo, ["prompt": "make it black and white"])
        #expect(grey["op"] == "grayscale")
        let pixel = try RGBImage(contentsOf: Self.artifactURL(grey))[x: 300, y: 200]
        #expect(pixel.red == pixel.green && pixel.green == pixel.blue)

        let outcome = await Self.runner.call("edit", params: ["image": .string(try Self.runner.artifacts.add(contentsOf: photo).id),
                                                              "op": "crop", "box": [0.8, 0.2, 0.3, 0.9]])
        guard case .failure(let error) = outcome.result else { Issue.record("an inverted box was accepted"); return }
        #expect(error.kind == .toolError && error.message.contains("box"), "\(error)")
    }
}

/// The quality measures: character error rate, masks from PNG and COCO RLE, IoU.
enum Metrics {
    /// Edit distance over the reference's length, with runs of whitespace counted as one space
    /// (line breaks and column padding are layout, not text).
    static func characterErrorRate(_ text: String, reference: String) -> Double {
        let a = Array(text.split(whereSeparator: \.isWhitespace).joined(separator: " "))
        let b = Array(reference.split(whereSeparator: \.isWhitespace).joined(separator: " "))
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return Double(previous[b.count]) / Double(max(1, b.count))
    }

    /// A 0/255 mask PNG as row-major booleans.
    static func mask(png url: URL) throws -> [Bool] {
        let pixels = try RGBImage(contentsOf: url).pixels  // grey is replicated into R, G, B
        return stride(from: 0, to: pixels.count, by: 3).map { pixels[$0] > 127 }
    }

    /// Compact COCO RLE (`{"size": [h, w], "counts": "..."}`) as row-major booleans.
    static func decodeRLE(_ rle: JSONValue) -> [Bool]? {
        guard let size = rle["size"]?.arrayValue?.compactMap(\.numberValue), size.count == 2,
              let text = rle["counts"]?.stringValue else { return nil }
        let (height, width) = (Int(size[0]), Int(size[1]))
        var counts: [Int] = []
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            var value = 0, shift = 0, more = true
            while more {
                guard let byte = bytes.popFirst() else { return nil }
                let c = Int(byte) - 48
                value |= (c & 0x1F) << shift
                more = c & 0x20 != 0
                shift += 5
                if !more, c & 0x10 != 0 { value |= -1 << shift }
            }
            if counts.count > 2 { value += counts[counts.count - 2] }
            counts.append(value)
        }
        guard counts.allSatisfy({ $0 >= 0 }), counts.reduce(0, +) == height * width else { return nil }
        // Runs alternate 0 and 1 over the pixels in column-major order.
        var mask = [Bool](repeating: false, count: height * width)
        var position = 0
        for (index, count) in counts.enumerated() {
            if index % 2 == 1 {
                for p in position..<position + count { mask[(p % height) * width + p / height] = true }
            }
            position += count
        }
        return mask
    }

    /// A normalised box filled, as row-major booleans.
    static func mask(box: [Double], height: Int, width: Int) -> [Bool] {
        let (x0, x1) = (Int((box[0] * Double(width)).rounded()), Int((box[2] * Double(width)).rounded()))
        let (y0, y1) = (Int((box[1] * Double(height)).rounded()), Int((box[3] * Double(height)).rounded()))
        return (0..<height * width).map { (x0..<x1).contains($0 % width) && (y0..<y1).contains($0 / width) }
    }

    static func iou(_ a: [Bool], _ b: [Bool]) -> Double {
        guard a.count == b.count else { return 0 }
        var both = 0, either = 0
        for (x, y) in zip(a, b) {
            if x && y { both += 1 }
            if x || y { either += 1 }
        }
        return either == 0 ? 0 : Double(both) / Double(either)
    }
}

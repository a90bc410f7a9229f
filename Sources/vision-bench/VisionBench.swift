// Measures image encoding: an mmproj file's CLIP tower and projector (what llama.cpp's
// `mtmd_encode_chunk` times), or EfficientNet-Lite0's feature map. Decoding and preprocessing
// are timed apart. Prints one JSON object; scripts/bench-vision.sh runs it beside llama.cpp.

import ArgumentParser
import CBLAS
import Foundation
import Imaging
import Tensors
import VisionModels

@main
struct VisionBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vision-bench", abstract: "Image encoding speed of the vision encoders.")

    @Option(name: .long, help: "An mmproj GGUF (CLIP tower + mlp projector).") var mmproj: String?
    @Option(name: .long, help: "EfficientNet-Lite0 safetensors, instead of --mmproj.") var efficientnet: String?
    @Option(name: .long, help: "The image to encode.") var image: String
    @Option(name: .shortAndLong, help: "Threads.") var threads = 2
    @Option(name: .shortAndLong, help: "Repetitions after one warm-up run (the median is reported).") var repetitions = 3

    func run() throws {
        let picture = try RGBImage(contentsOf: URL(fileURLWithPath: image))
        let encoder: any VisionEncoder
        let encode: (Tensor) -> Tensor
        let label: String
        if let mmproj {
            let file = try MMProjFile(url: URL(fileURLWithPath: mmproj))
            let pool = ThreadPool(threads: threads)
            let tower = try file.visionEncoder(pool: pool)
            guard let width = file.file.tensorInfo("mm.2.weight")?.shape.first else {
                throw ValidationError("\(mmproj): no mm.2.weight")
            }
            let projector = try file.projector(outputs: width)
            (encoder, label) = (tower, URL(fileURLWithPath: mmproj).lastPathComponent)
            encode = { projector(tower.encode($0), pool: pool) }
        } else if let efficientnet {
            // EfficientNet-Lite0 runs its GEMMs on OpenBLAS's own threads.
            openblas_set_num_threads(Int32(threads))
            let model = try EfficientNetLite(contentsOf: URL(fileURLWithPath: efficientnet))
            (encoder, label, encode) = (model, "efficientnet-lite0", model.encode)
        } else {
            throw ValidationError("give --mmproj or --efficientnet")
        }

        /// Wall-clock and process CPU seconds (all threads) of `body`.
        func seconds(_ body: () -> Void) -> (wall: Double, cpu: Double) {
            func cpuNow() -> Double {
                var t = timespec()
                clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
                return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
            }
            let (start, cpuStart) = (DispatchTime.now().uptimeNanoseconds, cpuNow())
            body()
            return (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, cpuNow() - cpuStart)
        }
        var pixels = Tensor(shape: [0], scalars: [])
        let preprocessSeconds = seconds { pixels = encoder.preprocess(picture) }.wall
        var tokens = 0
        // The first run warms up (pages in the weights).
        let runs = (0...repetitions).map { _ in seconds { tokens = encode(pixels).shape[0] } }.dropFirst()
        let walls = runs.map(\.wall)
        let result: [String: Any] = [
            "engine": "llava-plus", "model": label, "threads": threads, "tokens": tokens,
            "preprocess_seconds": preprocessSeconds, "encode_seconds": walls.sorted()[walls.count / 2],
            "runs": walls, "cpu_seconds": runs.map(\.cpu),
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    }
}

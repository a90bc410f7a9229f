import Tensors

extension RGBImage {
    /// The image as a float tensor of shape `[3, height, width]` (channels first, as PyTorch
    /// models take it), each sample `(p / 255 - mean[c]) / std[c]` computed in `Float`.
    /// CLIP uses mean `[0.48145466, 0.4578275, 0.40821073]`, std `[0.26862954, 0.26130258, 0.27577711]`.
    public func normalized(mean: [Float], std: [Float]) -> Tensor {
        precondition(mean.count == 3 && std.count == 3, "mean and std need one value per channel")
        precondition(std.allSatisfy { $0 != 0 }, "std must not be zero")
        // 256 possible inputs per channel: compute each once, then gather (one table per channel,
        // laid end to end), reading the interleaved pixels once and writing the three planes.
        let table: [Float] = (0..<3).flatMap { c in (0..<256).map { (Float($0) / 255 - mean[c]) / std[c] } }
        let plane = width * height
        // Every element is written below, so the array is not zero-filled first.
        let scalars = [Float](unsafeUninitializedCapacity: 3 * plane) { destination, initialized in
            pixels.withUnsafeBufferPointer { source in
                table.withUnsafeBufferPointer { lookup in
                    let red = destination.baseAddress!, green = red + plane, blue = green + plane
                    for i in 0..<plane {
                        red[i] = lookup[Int(source[3 * i])]
                        green[i] = lookup[256 + Int(source[3 * i + 1])]
                        blue[i] = lookup[512 + Int(source[3 * i + 2])]
                    }
                }
            }
            initialized = 3 * plane
        }
        return Tensor(shape: [3, height, width], scalars: scalars)
    }
}

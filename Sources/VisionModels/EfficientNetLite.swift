// EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant: no squeeze-excitation, ReLU6, fixed
// stem and head), inference only, laid out for the CPU: activations are channels-last (HWC) so
// every 1x1 convolution is one BLAS GEMM and the depthwise loops run along contiguous channels.
// Batch norm is folded into the convolutions at load time. Checkpoint names follow the
// `efficientnet_pytorch` layout (`_conv_stem`, `_blocks.N._expand_conv`, `_bn0`, ..., `_fc`).

import Foundation
import Imaging
import ModelFormats
import Tensors

/// EfficientNet-Lite0 with its ImageNet classifier: 224x224 RGB in, a 7x7x1280 feature map
/// (49 visual tokens for LLaVA) and 1000 class logits out.
public struct EfficientNetLite: Sendable {
    /// (kernel, stride, expand ratio, output channels, repeats) of each stage.
    static let stages: [(kernel: Int, stride: Int, expand: Int, channels: Int, repeats: Int)] = [
        (3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
        (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1),
    ]
    /// Batch-norm epsilon of the released weights.
    static let batchNormEpsilon: Float = 1e-3

    /// Input side in pixels.
    public static let inputSize = 224
    /// Channels of the feature map (the width of each visual token).
    public static let featureChannels = 1280

    let stem: Convolution
    let blocks: [MobileBlock]
    let head: Pointwise
    let classifier: Pointwise

    /// Builds the network from checkpoint tensors, folding batch norms; fails naming any
    /// missing tensor or mismatched shape.
    public init(weights: some WeightSource) throws {
        stem = try Convolution(weights: weights, conv: "_conv_stem", batchNorm: "_bn0", inputChannels: 3,
                               outputChannels: 32, kernel: 3, stride: 2)
        var blocks: [MobileBlock] = []
        var channels = 32
        for stage in Self.stages {
            for repeat_ in 0..<stage.repeats {
                let prefix = "_blocks.\(blocks.count)."
                let stride = repeat_ == 0 ? stage.stride : 1
                let hidden = channels * stage.expand
                blocks.append(MobileBlock(
                    expand: stage.expand == 1 ? nil : try Pointwise(
                        weights: weights, conv: prefix + "_expand_conv", batchNorm: prefix + "_bn0",
                        inputChannels: channels, outputChannels: hidden, activation: .relu6),
                    depthwise: try Depthwise(weights: weights, conv: prefix + "_depthwise_conv",
                                             batchNorm: prefix + "_bn1", channels: hidden,
                                             kernel: stage.kernel, stride: stride),
                    project: try Pointwise(weights: weights, conv: prefix + "_project_conv",
                                           batchNorm: prefix + "_bn2", inputChannels: hidden,
                                           outputChannels: stage.channels, activation: .none),
                    residual: stride == 1 && channels == stage.channels))
                channels = stage.channels
            }
        }
        self.blocks = blocks
        head = try Pointwise(weights: weights, conv: "_conv_head", batchNorm: "_bn1", inputChannels: channels,
                             outputChannels: Self.featureChannels, activation: .relu6)
        classifier = try Pointwise(linear: "_fc", weights: weights, inputChannels: Self.featureChannels,
                                   outputChannels: 1000)
    }

    /// The final feature map for a normalised `[3, 224, 224]` image: `[49, 1280]`, tokens in
    /// row-major (y, x) order.
    public func features(_ image: Tensor) -> Tensor {
        precondition(image.shape == [3, Self.inputSize, Self.inputSize],
                     "EfficientNet-Lite0 takes [3, 224, 224], got \(image.shape)")
        return featureGrid(image).features
    }

    /// The feature map of a normalised `[3, H, W]` image of any size (stride 32): `features` is
    /// `[rows * columns, 1280]` in row-major order. Detection reads a larger image this way
    /// once and scores regions on the grid instead of classifying every crop.
    public func featureGrid(_ image: Tensor) -> (rows: Int, columns: Int, features: Tensor) {
        precondition(image.shape.count == 3 && image.shape[0] == 3 && image.shape[1] >= 32 && image.shape[2] >= 32,
                     "EfficientNet-Lite0 takes [3, H, W] with sides of at least 32, got \(image.shape)")
        var x = stem(image)
        for block in blocks { x = block(x) }
        x = head(x)
        return (x.height, x.width, Tensor(shape: [x.height * x.width, x.channels], scalars: x.values))
    }

    /// ImageNet logits of every cell of a feature map: `[tokens, 1000]`. The classifier is
    /// linear, so the mean of these rows over any set of cells equals `classify` of those
    /// cells' pooled features.
    public func cellLogits(features: Tensor) -> Tensor {
        let tokens = features.shape[0], width = features.shape[1]
        let logits = classifier(FeatureMap(height: tokens, width: 1, channels: width, values: features.scalars))
        return Tensor(shape: [tokens, logits.channels], scalars: logits.values)
    }

    /// ImageNet logits from a feature map: global average pooling, then the linear classifier.
    public func classify(features: Tensor) -> [Float] {
        let tokens = features.shape[0], width = features.shape[1]
        var pooled = [Float](repeating: 0, count: width)
        features.scalars.withUnsafeBufferPointer { f in
            for t in 0..<tokens { for c in 0..<width { pooled[c] += f[t * width + c] } }
        }
        for c in 0..<width { pooled[c] /= Float(tokens) }
        return classifier(FeatureMap(height: 1, width: 1, channels: width, values: pooled)).values
    }
}

// MARK: - Layers

/// Activations in channels-last order: `values[(y * width + x) * channels + c]`.
struct FeatureMap {
    var height: Int, width: Int, channels: Int
    var values: [Float]
}

enum Activation {
    case none, relu6

    @inline(__always) func apply(_ x: Float) -> Float {
        switch self {
        case .none: x
        case .relu6: min(max(x, 0), 6)
        }
    }
}

/// Per-channel scale and shift of an inference batch norm.
private func foldedBatchNorm(_ weights: some WeightSource, _ name: String, channels: Int) throws -> (scale: [Float], shift: [Float]) {
    let gamma = try weights.tensor(name + ".weight", shape: [channels]).scalars
    let beta = try weights.tensor(name + ".bias", shape: [channels]).scalars
    let mean = try weights.tensor(name + ".running_mean", shape: [channels]).scalars
    let variance = try weights.tensor(name + ".running_var", shape: [channels]).scalars
    let scale = (0..<channels).map { gamma[$0] / (variance[$0] + EfficientNetLite.batchNormEpsilon).squareRoot() }
    let shift = (0..<channels).map { beta[$0] - mean[$0] * scale[$0] }
    return (scale, shift)
}

/// A 1x1 convolution (or linear layer) with folded batch norm: one GEMM over all pixels.
struct Pointwise {
    let inputChannels: Int, outputChannels: Int
    /// `[outputChannels, inputChannels]`, row-major.
    let weight: [Float]
    let bias: [Float]
    let activation: Activation

    init(weights: some WeightSource, conv: String, batchNorm: String, inputChannels: Int, outputChannels: Int,
         activation: Activation) throws {
        let raw = try weights.tensor(conv + ".weight", shape: [outputChannels, inputChannels, 1, 1]).scalars
        let (scale, shift) = try foldedBatchNorm(weights, batchNorm, channels: outputChannels)
        var weight = raw
        for o in 0..<outputChannels { for i in 0..<inputChannels { weight[o * inputChannels + i] *= scale[o] } }
        self.init(inputChannels: inputChannels, outputChannels: outputChannels, weight: weight, bias: shift,
                  activation: activation)
    }

    init(linear name: String, weights: some WeightSource, inputChannels: Int, outputChannels: Int) throws {
        self.init(inputChannels: inputChannels, outputChannels: outputChannels,
                  weight: try weights.tensor(name + ".weight", shape: [outputChannels, inputChannels]).scalars,
                  bias: try weights.tensor(name + ".bias", shape: [outputChannels]).scalars, activation: .none)
    }

    init(inputChannels: Int, outputChannels: Int, weight: [Float], bias: [Float], activation: Activation) {
        (self.inputChannels, self.outputChannels) = (inputChannels, outputChannels)
        (self.weight, self.bias, self.activation) = (weight, bias, activation)
    }

    func callAsFunction(_ x: FeatureMap) -> FeatureMap {
        precondition(x.channels == inputChannels)
        let pixels = x.height * x.width
        var out = [Float](repeating: 0, count: pixels * outputChannels)
        x.values.withUnsafeBufferPointer { a in
            weight.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { c in
                    MatrixMultiply.gemm(m: pixels, n: outputChannels, k: inputChannels, a: a.baseAddress!,
                                        b: b.baseAddress!, transposeB: true, c: c.baseAddress!)
                    for p in 0..<pixels {
                        for o in 0..<outputChannels {
                            c[p * outputChannels + o] = activation.apply(c[p * outputChannels + o] + bias[o])
                        }
                    }
                }
            }
        }
        return FeatureMap(height: x.height, width: x.width, channels: outputChannels, values: out)
    }
}

/// A depthwise k x k convolution with zero padding k/2 and folded batch norm, then ReLU6.
struct Depthwise {
    let channels: Int, kernel: Int, stride: Int
    /// `[kernel * kernel, channels]`: each tap's weights are contiguous across channels.
    let weight: [Float]
    let bias: [Float]

    init(weights: some WeightSource, conv: String, batchNorm: String, channels: Int, kernel: Int, stride: Int) throws {
        let raw = try weights.tensor(conv + ".weight", shape: [channels, 1, kernel, kernel]).scalars
        let (scale, shift) = try foldedBatchNorm(weights, batchNorm, channels: channels)
        var weight = [Float](repeating: 0, count: kernel * kernel * channels)
        for c in 0..<channels { for t in 0..<kernel * kernel { weight[t * channels + c] = raw[c * kernel * kernel + t] * scale[c] } }
        (self.channels, self.kernel, self.stride, self.weight, self.bias) = (channels, kernel, stride, weight, shift)
    }

    func callAsFunction(_ x: FeatureMap) -> FeatureMap {
        precondition(x.channels == channels)
        let pad = kernel / 2
        let outHeight = (x.height + 2 * pad - kernel) / stride + 1
        let outWidth = (x.width + 2 * pad - kernel) / stride + 1
        var out = [Float](repeating: 0, count: outHeight * outWidth * channels)
        x.values.withUnsafeBufferPointer { input in
            weight.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBufferPointer { o in
                    for oy in 0..<outHeight {
                        for ox in 0..<outWidth {
                            let dst = o.baseAddress! + (oy * outWidth + ox) * channels
                            for c in 0..<channels { dst[c] = bias[c] }
                            for ky in 0..<kernel {
                                let iy = oy * stride + ky - pad
                                if iy < 0 || iy >= x.height { continue }
                                for kx in 0..<kernel {
                                    let ix = ox * stride + kx - pad
                                    if ix < 0 || ix >= x.width { continue }
                                    let src = input.baseAddress! + (iy * x.width + ix) * channels
                                    let tap = w.baseAddress! + (ky * kernel + kx) * channels
                                    for c in 0..<channels { dst[c] += tap[c] * src[c] }
                                }
                            }
                            for c in 0..<channels { dst[c] = min(max(dst[c], 0), 6) }
                        }
                    }
                }
            }
        }
        return FeatureMap(height: outHeight, width: outWidth, channels: channels, values: out)
    }
}

/// The stem: a dense k x k convolution over the CHW input image (im2col, then one GEMM), ReLU6.
struct Convolution {
    let inputChannels: Int, outputChannels: Int, kernel: Int, stride: Int
    /// `[outputChannels, kernel * kernel * inputChannels]` with columns ordered (ky, kx, c).
    let weight: [Float]
    let bias: [Float]

    init(weights: some WeightSource, conv: String, batchNorm: String, inputChannels: Int, outputChannels: Int,
         kernel: Int, stride: Int) throws {
        let raw = try weights.tensor(conv + ".weight", shape: [outputChannels, inputChannels, kernel, kernel]).scalars
        let (scale, shift) = try foldedBatchNorm(weights, batchNorm, channels: outputChannels)
        let columns = kernel * kernel * inputChannels
        var weight = [Float](repeating: 0, count: outputChannels * columns)
        for o in 0..<outputChannels { for c in 0..<inputChannels { for ky in 0..<kernel { for kx in 0..<kernel {
            weight[o * columns + (ky * kernel + kx) * inputChannels + c] =
                raw[((o * inputChannels + c) * kernel + ky) * kernel + kx] * scale[o]
        } } } }
        (self.inputChannels, self.outputChannels, self.kernel, self.stride) = (inputChannels, outputChannels, kernel, stride)
        (self.weight, self.bias) = (weight, shift)
    }

    func callAsFunction(_ image: Tensor) -> FeatureMap {
        let (height, width) = (image.shape[1], image.shape[2])
        let pad = kernel / 2
        let outHeight = (height + 2 * pad - kernel) / stride + 1
        let outWidth = (width + 2 * pad - kernel) / stride + 1
        let columns = kernel * kernel * inputChannels
        var patches = [Float](repeating: 0, count: outHeight * outWidth * columns)
        for oy in 0..<outHeight { for ox in 0..<outWidth {
            let row = (oy * outWidth + ox) * columns
            for ky in 0..<kernel {
                let iy = oy * stride + ky - pad
                if iy < 0 || iy >= height { continue }
                for kx in 0..<kernel {
                    let ix = ox * stride + kx - pad
                    if ix < 0 || ix >= width { continue }
                    for c in 0..<inputChannels {
                        patches[row + (ky * kernel + kx) * inputChannels + c] = image.scalars[(c * height + iy) * width + ix]
                    }
                }
            }
        } }
        let dense = Pointwise(inputChannels: columns, outputChannels: outputChannels, weight: weight, bias: bias,
                              activation: .relu6)
        return dense(FeatureMap(height: outHeight, width: outWidth, channels: columns, values: patches))
    }
}

/// Inverted residual block: 1x1 expand, depthwise, 1x1 project, and the skip when shapes allow.
struct MobileBlock {
    let expand: Pointwise?
    let depthwise: Depthwise
    let project: Pointwise
    let residual: Bool

    func callAsFunction(_ x: FeatureMap) -> FeatureMap {
        var y = project(depthwise(expand.map { $0(x) } ?? x))
        if residual {
            for i in y.values.indices { y.values[i] += x.values[i] }
        }
        return y
    }
}

// MARK: - Loading and preprocessing

extension SafeTensorsFile: WeightSource {}

extension EfficientNetLite {
    /// Loads the weights from a safetensors file (the model store's `efficientnet-lite0`).
    public init(contentsOf url: URL) throws {
        try self.init(weights: try SafeTensorsFile(url: url))
    }

    /// The released model's preprocessing: shorter side to 256 (bicubic), centre crop 224,
    /// then `(x / 255 - 0.5) / 0.5` per channel, as a `[3, 224, 224]` tensor.
    public static func preprocess(_ image: RGBImage) -> Tensor {
        image.resizedShortestSide(to: 256, filter: .bicubic)
            .centreCropped(width: inputSize, height: inputSize)
            .normalized(mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5])
    }
}

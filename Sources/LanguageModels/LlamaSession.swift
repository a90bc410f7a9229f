import CBLAS
import Foundation
import Tensors

/// What goes in at one position: a token, or an embedding given directly (LLaVA's projected
/// image features take the place of the `<image>` placeholder this way).
public enum LlamaInput: Sendable, Equatable {
    case token(Int)
    case embedding([Float])
}

/// One conversation's state for a ``Llama``: the key/value cache and every scratch buffer,
/// allocated once up front so that evaluating tokens allocates nothing.
public final class LlamaSession {
    public let model: Llama
    /// Positions the key/value cache holds.
    public let capacity: Int
    /// Tokens already in the cache; the next token goes at this position.
    public private(set) var position = 0
    /// Largest number of tokens run through the layers at once; longer inputs go in chunks.
    public let maxBatch: Int

    /// Batches at least this long decode weights to floats and use a BLAS GEMM; shorter ones use
    /// the fused quantised matrix-vector kernels.
    static let gemmThreshold = 8

    private let activations: QuantizedActivations
    /// Every layer's keys and values.
    public let cache: KeyValueCache
    private let x, normed, query, key, value, attention, gate, up, scores, blockSums, dequantized, rounded, logits: Buffer
    /// One layer's cached keys and values widened to f32 for the prompt-batch GEMMs.
    private let wideKeys, wideValues: Buffer

    /// A session with room for `capacity` positions (at most the model's context length).
    public init(model: Llama, capacity: Int? = nil, maxBatch: Int = 512, cachePrecision: KeyValueCache.Precision = .f16) {
        let c = model.configuration
        self.model = model
        self.capacity = min(capacity ?? c.contextLength, c.contextLength)
        self.maxBatch = maxBatch
        let cacheSize = self.capacity * c.keyValueWidth
        cache = KeyValueCache(precision: cachePrecision, layerCount: c.layerCount, capacity: self.capacity,
                              width: c.keyValueWidth)
        x = Buffer(maxBatch * c.hiddenSize)
        normed = Buffer(maxBatch * max(c.hiddenSize, c.intermediateSize))
        query = Buffer(maxBatch * c.queryWidth)
        key = Buffer(maxBatch * c.keyValueWidth)
        value = Buffer(maxBatch * c.keyValueWidth)
        attention = Buffer(maxBatch * c.queryWidth)
        gate = Buffer(maxBatch * c.intermediateSize)
        up = Buffer(maxBatch * c.intermediateSize)
        // Attention scores: one [batch, positions] block per thread for prompts, every head's row
        // for single tokens.
        scores = Buffer(max(maxBatch * model.pool.threadCount, c.headCount) * self.capacity)
        activations = QuantizedActivations(capacity: max(c.hiddenSize, c.intermediateSize, c.queryWidth))
        // One sum per 32-value block of the widest input vector; all threads read the same sums.
        blockSums = Buffer(max(c.hiddenSize, c.intermediateSize, c.queryWidth) / 32 + 1)
        // Room for the largest layer matrix as floats; the vocabulary projection only ever runs
        // one row at a time, through the fused kernels.
        dequantized = Buffer(model.layers.flatMap { [$0.query, $0.key, $0.value, $0.attentionOutput, $0.gate, $0.up, $0.down] }
            .map { $0.rows * $0.columns }.max() ?? 0)
        rounded = Buffer(maxBatch * max(c.hiddenSize, c.intermediateSize, c.queryWidth))
        wideKeys = Buffer(cacheSize)
        wideValues = Buffer(cacheSize)
        logits = Buffer(c.vocabularySize)
    }

    deinit {
        activations.deallocate()
    }

    /// Forgets everything from `position` on (to rewind a conversation or reuse a shared prefix).
    public func truncate(to newPosition: Int) {
        position = min(position, max(0, newPosition))
    }

    /// Runs `tokens` through the model at the next positions and returns the logits that
    /// follow the last one (`vocabularySize` floats).
    @discardableResult
    public func evaluate(_ tokens: [Int]) throws -> [Float] {
        try evaluate(tokens.map(LlamaInput.token))
    }

    /// Runs inputs (tokens, or embeddings such as LLaVA's projected image features) at the next
    /// positions and returns the logits that follow the last one.
    @discardableResult
    public func evaluate(_ inputs: [LlamaInput]) throws -> [Float] {
        try evaluate(inputs, everyPosition: false) { _, logits in logits }.last!
    }

    /// Runs `tokens` and calls `body(index, logits)` for every token's next-token logits
    /// (tests compare every position with a reference). Costs one output projection per token.
    public func evaluateAll<T>(_ tokens: [Int], _ body: (Int, [Float]) -> T) throws -> [T] {
        try evaluate(tokens.map(LlamaInput.token), everyPosition: true, body)
    }

    /// ``evaluateAll(_:_:)`` for inputs that may include embeddings.
    public func evaluateAll<T>(_ inputs: [LlamaInput], _ body: (Int, [Float]) -> T) throws -> [T] {
        try evaluate(inputs, everyPosition: true, body)
    }

    private func evaluate<T>(_ inputs: [LlamaInput], everyPosition: Bool, _ body: (Int, [Float]) -> T) throws -> [T] {
        let c = model.configuration
        guard !inputs.isEmpty else { throw ModelError.invalid("nothing to evaluate") }
        guard position + inputs.count <= capacity else {
            throw ModelError.contextFull(needed: position + inputs.count, capacity: capacity)
        }
        for input in inputs {
            switch input {
            case .token(let id) where id < 0 || id >= c.vocabularySize:
                throw ModelError.invalid("token id \(id) is outside the vocabulary of \(c.vocabularySize)")
            case .embedding(let values) where values.count != c.hiddenSize:
                throw ModelError.invalid("an input embedding has \(values.count) values; the model's width is \(c.hiddenSize)")
            default: break
            }
        }
        var results: [T] = []
        var start = 0
        while start < inputs.count {
            let chunk = inputs[start..<min(start + maxBatch, inputs.count)]
            runLayers(chunk)
            let isLast = start + chunk.count == inputs.count
            for i in 0..<chunk.count where everyPosition || (isLast && i == chunk.count - 1) {
                projectToVocabulary(row: i)
                results.append(body(start + i, Array(UnsafeBufferPointer(start: logits.pointer, count: c.vocabularySize))))
            }
            start += chunk.count
        }
        return results
    }

    // MARK: - The forward pass

    private func runLayers(_ inputs: ArraySlice<LlamaInput>) {
        let c = model.configuration
        let n = inputs.count
        let hidden = c.hiddenSize
        for (i, input) in inputs.enumerated() {
            switch input {
            case .token(let id): model.tokenEmbedding.dequantizeRow(id, into: x.pointer + i * hidden)
            case .embedding(let values): (x.pointer + i * hidden).update(from: values, count: hidden)
            }
        }
        for (l, layer) in model.layers.enumerated() {
            rmsNorm(x.pointer, n, weight: layer.attentionNorm, into: normed.pointer)
            linear(layer.query, normed.pointer, n, into: query.pointer)
            linear(layer.key, normed.pointer, n, into: key.pointer)
            linear(layer.value, normed.pointer, n, into: value.pointer)
            applyRope(n)
            cache.store(layer: l, at: position, count: n, keys: key.pointer, values: value.pointer)
            attend(layer: l, n)
            linear(layer.attentionOutput, attention.pointer, n, into: normed.pointer)
            add(normed.pointer, into: x.pointer, count: n * hidden)

            rmsNorm(x.pointer, n, weight: layer.feedForwardNorm, into: normed.pointer)
            linear(layer.gate, normed.pointer, n, into: gate.pointer)
            linear(layer.up, normed.pointer, n, into: up.pointer)
            for i in 0..<n * c.intermediateSize {
                let g = gate.pointer[i]
                gate.pointer[i] = g / (1 + expf(-g)) * up.pointer[i]
            }
            linear(layer.down, gate.pointer, n, into: normed.pointer)
            add(normed.pointer, into: x.pointer, count: n * hidden)
        }
        position += n
    }

    /// Final norm of one row of the last batch and the vocabulary projection into `logits`.
    private func projectToVocabulary(row: Int) {
        let hidden = model.configuration.hiddenSize
        rmsNorm(x.pointer + row * hidden, 1, weight: model.outputNorm, into: normed.pointer)
        linear(model.output, normed.pointer, 1, into: logits.pointer)
    }

    private func rmsNorm(_ input: UnsafePointer<Float>, _ n: Int, weight: [Float], into output: UnsafeMutablePointer<Float>) {
        let width = weight.count
        let epsilon = model.configuration.rmsNormEpsilon
        for i in 0..<n {
            let row = input + i * width
            let meanSquare = dotF32(row, row, count: width) / Float(width)
            let scale = 1 / (meanSquare + epsilon).squareRoot()
            for j in 0..<width { output[i * width + j] = row[j] * scale * weight[j] }
        }
    }

    private func add(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { target[i] += source[i] }
    }

    /// `output[n, rows] = input[n, columns] · wᵀ`.
    private func linear(_ w: WeightMatrix, _ input: UnsafePointer<Float>, _ n: Int, into output: UnsafeMutablePointer<Float>) {
        if n < Self.gemmThreshold || w.rows * w.columns > dequantized.count {
            let sums = blockSums.pointer
            for t in 0..<n {
                let vector = input + t * w.columns
                let out = output + t * w.rows
                if let layout = w.format.activationLayout {
                    let x = activations
                    x.quantize(vector, count: w.columns, layout: layout)
                    model.pool.parallelFor(w.rows, granularity: 16) { range in
                        w.multiply(rows: range, activations: x, into: out)
                    }
                } else {
                    BlockFormat.blockSums(of: vector, count: w.columns - w.columns % 32, into: sums)
                    model.pool.parallelFor(w.rows, granularity: 16) { range in
                        w.multiply(rows: range, vector: vector, blockSums: sums, into: out)
                    }
                }
            }
            return
        }
        // Each thread decodes its share of the weight rows and multiplies them with a
        // single-threaded GEMM: one pool for all parallel work, and the decoded rows are still
        // in cache when the GEMM reads them.
        let floats = dequantized.pointer
        var left = input
        if let layout = w.format.activationLayout {
            // See the same 8-bit view of the activations as the token-by-token kernels do.
            let out = rounded.pointer
            model.pool.parallelFor(n) { tokens in
                for t in tokens {
                    QuantizedActivations.roundTrip(input + t * w.columns, count: w.columns, layout: layout,
                                                   into: out + t * w.columns)
                }
            }
            left = UnsafePointer(out)
        }
        let a = left
        model.pool.parallelFor(w.rows, granularity: 16) { range in
            for r in range { w.dequantizeRow(r, into: floats + r * w.columns) }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(range.count), Int32(w.columns), 1,
                        a, Int32(w.columns), floats + range.lowerBound * w.columns, Int32(w.columns),
                        0, output + range.lowerBound, Int32(w.rows))
        }
    }

    /// Rotates each head's query and key by its position.
    private func applyRope(_ n: Int) {
        let c = model.configuration
        let half = c.headDimension / 2
        for i in 0..<n {
            let p = Float(position + i)
            for pair in 0..<half {
                let theta = p * model.ropeInverseFrequencies[pair]
                let cosine = cosf(theta), sine = sinf(theta)
                let (a, b) = c.ropeStyle == .interleaved ? (2 * pair, 2 * pair + 1) : (pair, pair + half)
                for (buffer, heads) in [(query.pointer + i * c.queryWidth, c.headCount),
                                        (key.pointer + i * c.keyValueWidth, c.keyValueHeadCount)] {
                    for h in 0..<heads {
                        let v = buffer + h * c.headDimension
                        let (x0, x1) = (v[a], v[b])
                        v[a] = x0 * cosine - x1 * sine
                        v[b] = x0 * sine + x1 * cosine
                    }
                }
            }
        }
    }

    /// Causal grouped-query attention of the batch's queries over every cached position.
    private func attend(layer l: Int, _ n: Int) {
        let c = model.configuration
        let d = c.headDimension
        let group = c.headCount / c.keyValueHeadCount
        let scale = 1 / Float(d).squareRoot()
        let total = position + n
        let halfPrecision = cache.usesHalfPrecision
        if halfPrecision {
            for i in 0..<n * c.queryWidth { query.pointer[i] = Float(Float16(query.pointer[i])) }
        }
        if n < Self.gemmThreshold {
            // Few queries: heads in parallel, dot products straight from the cache.
            for i in 0..<n {
                let visible = position + i + 1
                model.pool.parallelFor(c.headCount) { heads in
                    for h in heads {
                        let q = query.pointer + i * c.queryWidth + h * d
                        let kvOffset = (h / group) * d
                        let row = scores.pointer + h * capacity
                        for t in 0..<visible {
                            row[t] = cache.dotKey(layer: l, position: t, offset: kvOffset, q, count: d) * scale
                        }
                        softmax(row, visible, roundingToHalf: halfPrecision)
                        let out = attention.pointer + i * c.queryWidth + h * d
                        out.update(repeating: 0, count: d)
                        for t in 0..<visible {
                            cache.accumulateValue(layer: l, position: t, offset: kvOffset, weight: row[t], into: out, count: d)
                        }
                    }
                }
            }
            return
        }
        // A prompt batch: per head, scores = Q Kᵀ and output = softmax(scores) V as GEMMs.
        let (keysF32, valuesF32) = cache.floatViews(layer: l, positions: total, keyScratch: wideKeys.pointer,
                                                    valueScratch: wideValues.pointer, pool: model.pool)
        // Heads in parallel, each thread with its own slice of the scores buffer.
        let scoresPerHead = n * total
        let threads = model.pool.threadCount
        model.pool.run { part in
            let headScores = scores.pointer + part * scoresPerHead
            for h in stride(from: part, to: c.headCount, by: threads) {
                let kvOffset = (h / group) * d
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(total), Int32(d), scale,
                            query.pointer + h * d, Int32(c.queryWidth), keysF32 + kvOffset, Int32(c.keyValueWidth),
                            0, headScores, Int32(total))
                for i in 0..<n {
                    softmax(headScores + i * total, position + i + 1, zeroingUpTo: total, roundingToHalf: halfPrecision)
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(d), Int32(total), 1,
                            headScores, Int32(total), valuesF32 + kvOffset, Int32(c.keyValueWidth),
                            0, attention.pointer + h * d, Int32(c.queryWidth))
            }
        }
    }
}

/// In-place softmax of the first `count` values; entries from `count` up to `zeroingUpTo` are
/// set to 0 (the causal mask of a prompt batch). `roundingToHalf` rounds the results to f16,
/// as ggml does before multiplying them with an f16 value cache.
@inline(__always)
private func softmax(_ values: UnsafeMutablePointer<Float>, _ count: Int, zeroingUpTo end: Int = 0, roundingToHalf: Bool) {
    var maximum = -Float.infinity
    for i in 0..<count { maximum = max(maximum, values[i]) }
    var sum: Float = 0
    for i in 0..<count {
        let e = expf(values[i] - maximum)
        values[i] = e
        sum += e
    }
    let inverse = 1 / sum
    for i in 0..<count { values[i] *= inverse }
    if roundingToHalf {
        for i in 0..<count { values[i] = Float(Float16(values[i])) }
    }
    if end > count { (values + count).update(repeating: 0, count: end - count) }
}

/// A fixed-size float buffer owned by a session.
private final class Buffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    init(_ count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }
    deinit { pointer.deallocate() }
}

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
/// allocated once up front so that evaluating tokens allocates nothing. Both are reserved for
/// `capacity` positions and `maxBatch` tokens but take memory only as they are used (see
/// ``ZeroedPages``).
public final class LlamaSession {
    public let model: Llama
    /// Positions the key/value cache holds.
    public let capacity: Int
    /// Tokens already in the cache; the next token goes at this position.
    public private(set) var position = 0
    /// Largest number of tokens run through the layers at once; longer inputs go in chunks.
    public let maxBatch: Int
    /// The default ``maxBatch`` for `model`: 512 tokens (llama.cpp's default batch), or fewer
    /// where a batch's activations would exceed 3% of the weights, so that a session stays
    /// within the engine's memory target of "model file + KV cache + 10%" (BENCHMARKS.md). Only
    /// models of a few hundred MB get less (SmolLM2-135M: 224, prompts ~3% slower than at 512).
    public static func defaultMaxBatch(for model: Llama) -> Int {
        let c = model.configuration
        let floatsPerToken = 2 * c.hiddenSize + c.queryWidth + 2 * c.keyValueWidth + 2 * min(c.intermediateSize, feedForwardSlice)
        let fitting = model.weightBytes * 3 / 100 / (floatsPerToken * MemoryLayout<Float>.stride)
        return max(64, min(512, fitting / 32 * 32))
    }

    /// Batches at least this long decode weights to floats and use a BLAS GEMM; shorter ones use
    /// the fused quantised matrix-vector kernels.
    static let gemmThreshold = 8
    /// Weight rows decoded to floats per thread and GEMM call. Every call repacks the whole
    /// activation batch (`n` x `k` floats) for OpenBLAS, so the count of rows, not of bytes, sets
    /// that overhead: at 128 rows it was a third of a 1B model's prompt time.
    static let decodedBlockRows = 512
    /// Intermediate values per slice of a prompt batch's feed-forward pass; a multiple of 256 so
    /// that slices start on block boundaries of every format.
    static let feedForwardSlice = 512
    /// Queries per attention GEMM in a prompt batch, which bounds the scores buffer (a batch of
    /// 512 over a 4096-position context would need 8 MB per thread at once).
    static let attentionQueries = 128

    private let activations: QuantizedActivations
    /// Every layer's keys and values.
    public let cache: KeyValueCache
    /// `query` also receives the attention output: each head's output overwrites its own query.
    private let x, normed, query, key, value, gate, up, scores, blockSums, logits: Buffer
    /// Prompt batches round each matrix product's input through 8-bit in place, once for the
    /// products that share it. Only a model whose products of one input round differently (say
    /// q8_0- and q8_K-layout formats side by side) needs rounded copies, kept here.
    private let rounded: Buffer
    /// Each thread's block of weight rows decoded to floats for the prompt-batch GEMMs.
    private let decodedRows: Buffer
    /// One layer's cached keys and values widened to f32 for the prompt-batch GEMMs.
    private let wideKeys, wideValues: Buffer
    /// Each thread's 64 partial sums of attention outputs (see `KeyValueCache.weightedSumOfValues`).
    private let valueSums: Buffer
    /// RoPE's angles at one position.
    private let angles: Buffer

    /// A session with room for `capacity` positions (at most the model's context length) and
    /// batches of at most `maxBatch` tokens (default: ``defaultMaxBatch(for:)``).
    public init(model: Llama, capacity: Int? = nil, maxBatch: Int? = nil, cachePrecision: KeyValueCache.Precision = .f16) {
        let c = model.configuration
        self.model = model
        self.capacity = min(capacity ?? c.contextLength, c.contextLength)
        let maxBatch = maxBatch ?? Self.defaultMaxBatch(for: model)
        self.maxBatch = maxBatch
        let cacheSize = self.capacity * c.keyValueWidth
        cache = KeyValueCache(precision: cachePrecision, layerCount: c.layerCount, capacity: self.capacity,
                              width: c.keyValueWidth)
        x = Buffer(maxBatch * c.hiddenSize)
        normed = Buffer(maxBatch * c.hiddenSize)
        query = Buffer(maxBatch * c.queryWidth)
        key = Buffer(maxBatch * c.keyValueWidth)
        value = Buffer(maxBatch * c.keyValueWidth)
        // Feed-forward activations: a few whole rows token by token, a slice of each row in batches.
        let feedForwardFloats = max(min(maxBatch, Self.gemmThreshold - 1) * c.intermediateSize,
                                    maxBatch * min(c.intermediateSize, Self.feedForwardSlice))
        gate = Buffer(feedForwardFloats)
        up = Buffer(feedForwardFloats)
        // Attention scores: one [queries, positions] block per thread for prompts, every head's
        // row for single tokens.
        scores = Buffer(max(min(maxBatch, Self.attentionQueries) * model.pool.threadCount, c.headCount) * self.capacity)
        activations = QuantizedActivations(capacity: max(c.hiddenSize, c.intermediateSize, c.queryWidth))
        // One sum per 32-value block of the widest input vector; all threads read the same sums.
        blockSums = Buffer(max(c.hiddenSize, c.intermediateSize, c.queryWidth) / 32 + 1)
        // Blocks of rows rather than whole matrices: a 1B model's feed-forward matrix alone is
        // 64 MB as floats. The vocabulary projection only ever runs one row at a time, through the
        // fused kernels. A batch GEMM's input is the hidden state, the attention output or a
        // slice of the feed-forward activations, so a row is at most the widest of those.
        let widest = max(c.hiddenSize, c.queryWidth, min(c.intermediateSize, Self.feedForwardSlice))
        decodedRows = Buffer(model.pool.threadCount * Self.decodedBlockRows * widest)
        // Two copies where gate and up round differently (both are read at once), one where q, k
        // and v do.
        let roundingCopies = model.layers.contains { $0.gate.format.activationLayout != $0.up.format.activationLayout } ? 2
            : model.layers.contains { Set([$0.query, $0.key, $0.value].map(\.format.activationLayout)).count > 1 } ? 1 : 0
        rounded = Buffer(roundingCopies * maxBatch * c.hiddenSize)
        wideKeys = Buffer(cacheSize)
        wideValues = Buffer(cacheSize)
        logits = Buffer(c.vocabularySize)
        valueSums = Buffer(model.pool.threadCount * 64 * c.headDimension)
        angles = Buffer(c.headDimension / 2)
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
            // Rounded once, in place, for all three (see `rounded`).
            let inPlace = rounded.count == 0
            linear(layer.query, normed.pointer, n, into: query.pointer, rounding: inPlace ? normed.pointer : rounded.pointer)
            linear(layer.key, normed.pointer, n, into: key.pointer, rounding: inPlace ? nil : rounded.pointer)
            linear(layer.value, normed.pointer, n, into: value.pointer, rounding: inPlace ? nil : rounded.pointer)
            applyRope(n)
            cache.store(layer: l, at: position, count: n, keys: key.pointer, values: value.pointer)
            attend(layer: l, n)
            linear(layer.attentionOutput, query.pointer, n, into: normed.pointer, rounding: query.pointer)
            add(normed.pointer, into: x.pointer, count: n * hidden)

            rmsNorm(x.pointer, n, weight: layer.feedForwardNorm, into: normed.pointer)
            feedForward(layer, n)
        }
        position += n
    }

    /// Final norm of one row of the last batch and the vocabulary projection into `logits`.
    private func projectToVocabulary(row: Int) {
        let hidden = model.configuration.hiddenSize
        rmsNorm(x.pointer + row * hidden, 1, weight: model.outputNorm, into: normed.pointer)
        linear(model.output, normed.pointer, 1, into: logits.pointer, rounding: nil)
    }

    private func rmsNorm(_ input: UnsafePointer<Float>, _ n: Int, weight: [Float], into output: UnsafeMutablePointer<Float>) {
        let width = weight.count
        let epsilon = model.configuration.rmsNormEpsilon
        for i in 0..<n {
            let row = input + i * width
            // In ggml's arithmetic: float squares summed one after another in double precision.
            var sum: Double = 0
            for j in 0..<width { sum += Double(row[j] * row[j]) }
            let scale = 1 / (Float(sum / Double(width)) + epsilon).squareRoot()
            for j in 0..<width { output[i * width + j] = row[j] * scale * weight[j] }
        }
    }

    private func add(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { target[i] += source[i] }
    }

    /// `output[n, rows] = input[n, columns] · wᵀ`. Batches first round `input` as `w`'s integer
    /// kernels see it (see ``roundedForGEMM(_:_:width:format:into:)``) into `rounding`, which
    /// may be `input` itself; nil when `input` is already rounded for `w`.
    private func linear(_ w: WeightMatrix, _ input: UnsafeMutablePointer<Float>, _ n: Int, into output: UnsafeMutablePointer<Float>,
                        rounding: UnsafeMutablePointer<Float>?) {
        if n < Self.gemmThreshold {
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
        let a = rounding.map { roundedForGEMM(input, n, width: w.columns, format: w.format, into: $0) } ?? UnsafePointer(input)
        gemm(w, rows: 0..<w.rows, columns: 0..<w.columns, a, n, into: output, accumulating: false)
    }

    /// SwiGLU feed-forward of the batch in `normed`, added to the residual stream `x`. Prompt
    /// batches go through the intermediate width a slice at a time, accumulating the `down`
    /// projection straight into `x` (not into `normed`, which later slices still read), so that
    /// the gate and up activations take `n * feedForwardSlice` floats, not `n * intermediateSize`.
    private func feedForward(_ layer: Llama.Layer, _ n: Int) {
        let width = model.configuration.intermediateSize
        guard n >= Self.gemmThreshold else {
            linear(layer.gate, normed.pointer, n, into: gate.pointer, rounding: nil)
            linear(layer.up, normed.pointer, n, into: up.pointer, rounding: nil)
            VectorMath.swiGLU(gate.pointer, up.pointer, count: n * width)
            linear(layer.down, gate.pointer, n, into: normed.pointer, rounding: nil)
            add(normed.pointer, into: x.pointer, count: n * model.configuration.hiddenSize)
            return
        }
        // Rounded once for both projections when they share an activation layout (as in every
        // llama.cpp file), in place unless the model needs copies (see `rounded`).
        let hidden = model.configuration.hiddenSize
        let gateInput = roundedForGEMM(normed.pointer, n, width: hidden, format: layer.gate.format,
                                       into: rounded.count == 0 ? normed.pointer : rounded.pointer)
        let upInput = layer.up.format.activationLayout == layer.gate.format.activationLayout ? gateInput
            : roundedForGEMM(normed.pointer, n, width: hidden, format: layer.up.format,
                             into: rounded.pointer + rounded.count / 2)
        for start in stride(from: 0, to: width, by: Self.feedForwardSlice) {
            let slice = start..<min(width, start + Self.feedForwardSlice)
            gemm(layer.gate, rows: slice, columns: 0..<layer.gate.columns, gateInput, n, into: gate.pointer,
                 outputStride: slice.count, accumulating: false)
            gemm(layer.up, rows: slice, columns: 0..<layer.up.columns, upInput, n, into: up.pointer,
                 outputStride: slice.count, accumulating: false)
            VectorMath.swiGLU(gate.pointer, up.pointer, count: n * slice.count)
            // Slices start on 256-value boundaries, so rounding a slice matches rounding the row.
            let downInput = roundedForGEMM(gate.pointer, n, width: slice.count, format: layer.down.format, into: gate.pointer)
            gemm(layer.down, rows: 0..<layer.down.rows, columns: slice, downInput, n, into: x.pointer,
                 accumulating: true)
        }
    }

    /// `input` (`n` rows of `width`) as the 8-bit-rounded floats that `format`'s integer kernels
    /// see, written to `scratch` (which may be `input`: each block is read before it is written),
    /// so that batches agree with token-by-token evaluation; `input` itself, untouched, for
    /// formats multiplied in floats.
    private func roundedForGEMM(_ input: UnsafePointer<Float>, _ n: Int, width: Int, format: BlockFormat,
                                into scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        guard let layout = format.activationLayout else { return input }
        model.pool.parallelFor(n) { tokens in
            for t in tokens {
                QuantizedActivations.roundTrip(input + t * width, count: width, layout: layout, into: scratch + t * width)
            }
        }
        return UnsafePointer(scratch)
    }

    /// `output[n, rows.count] (+)= a[n, columns.count] · w[rows, columns]ᵀ`: weight row `r` gives
    /// output column `r - rows.lowerBound`, and the `n` output rows are `outputStride` floats
    /// apart (default `w.rows`). Each thread decodes its share of the weight rows, a block at a time, and multiplies
    /// each block with a single-threaded GEMM: one pool for all parallel work, and the decoded
    /// rows are still in cache when the GEMM reads them.
    private func gemm(_ w: WeightMatrix, rows: Range<Int>, columns: Range<Int>, _ a: UnsafePointer<Float>, _ n: Int,
                      into output: UnsafeMutablePointer<Float>, outputStride: Int? = nil, accumulating: Bool) {
        let threads = model.pool.threadCount
        let k = columns.count
        let block = Self.decodedBlockRows
        let ldc = outputStride ?? w.rows
        model.pool.run { part in
            let floats = decodedRows.pointer + part * (decodedRows.count / threads)
            // Contiguous 16-row-aligned shares, as `parallelFor` splits them.
            let units = (rows.count + 15) / 16
            let end = rows.lowerBound + min(rows.count, units * (part + 1) / threads * 16)
            for start in stride(from: rows.lowerBound + min(rows.count, units * part / threads * 16), to: end, by: block) {
                let count = min(block, end - start)
                for r in 0..<count { w.dequantizeRow(start + r, columns: columns, into: floats + r * k) }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(count), Int32(k), 1,
                            a, Int32(k), floats, Int32(k), accumulating ? 1 : 0,
                            output + (start - rows.lowerBound), Int32(ldc))
            }
        }
    }

    /// Rotates each head's query and key by its position.
    private func applyRope(_ n: Int) {
        let c = model.configuration
        let half = c.headDimension / 2
        for i in 0..<n {
            model.rotaryAngles.angles(position: position + i, into: angles.pointer)
            for pair in 0..<half {
                let cosine = cosf(angles.pointer[pair]), sine = sinf(angles.pointer[pair])
                let (a, b) = c.ropeStyle == .interleaved ? (2 * pair, 2 * pair + 1) : (pair, pair + half)
                func rotate(_ heads: UnsafeMutablePointer<Float>, count: Int) {
                    for h in 0..<count {
                        let v = heads + h * c.headDimension
                        let (x0, x1) = (v[a], v[b])
                        // Fused as GCC fuses ggml's `x0*cos - x1*sin` and `x0*sin + x1*cos`.
                        v[a] = (-(x1 * sine)).addingProduct(x0, cosine)
                        v[b] = (x1 * cosine).addingProduct(x0, sine)
                    }
                }
                rotate(query.pointer + i * c.queryWidth, count: c.headCount)
                rotate(key.pointer + i * c.keyValueWidth, count: c.keyValueHeadCount)
            }
        }
    }

    /// Causal grouped-query attention of the batch's queries over every cached position, written
    /// over the queries.
    private func attend(layer l: Int, _ n: Int) {
        let c = model.configuration
        let d = c.headDimension
        let group = c.headCount / c.keyValueHeadCount
        let scale = 1 / Float(d).squareRoot()
        let total = position + n
        let halfPrecision = cache.usesHalfPrecision
        let threads = model.pool.threadCount
        if halfPrecision {
            for i in 0..<n * c.queryWidth { query.pointer[i] = Float(Float16(query.pointer[i])) }
        }
        if n < Self.gemmThreshold {
            // Few queries: heads in parallel, dot products straight from the cache.
            for i in 0..<n {
                let visible = position + i + 1
                model.pool.run { part in
                    let partials = valueSums.pointer + part * 64 * d
                    for h in stride(from: part, to: c.headCount, by: threads) {
                        let q = query.pointer + i * c.queryWidth + h * d
                        let kvOffset = (h / group) * d
                        let row = scores.pointer + h * capacity
                        for t in 0..<visible {
                            row[t] = cache.dotKey(layer: l, position: t, offset: kvOffset, q, count: d) * scale
                        }
                        softmax(row, visible, roundingToHalf: halfPrecision)
                        // Into this head's query, which is not read again.
                        cache.weightedSumOfValues(layer: l, offset: kvOffset, weights: row, count: visible,
                                                  dimension: d, partials: partials, into: q)
                    }
                }
            }
            return
        }
        // A prompt batch: per head, scores = Q Kᵀ and output = softmax(scores) V as GEMMs.
        let (keysF32, valuesF32) = cache.floatViews(layer: l, positions: total, keyScratch: wideKeys.pointer,
                                                    valueScratch: wideValues.pointer, pool: model.pool)
        // Heads in parallel, each thread with its own slice of the scores buffer; the queries of
        // a head go in chunks, each over only the positions its last query sees.
        let chunk = min(n, Self.attentionQueries)
        model.pool.run { part in
            let headScores = scores.pointer + part * chunk * total
            for h in stride(from: part, to: c.headCount, by: threads) {
                let kvOffset = (h / group) * d
                for first in stride(from: 0, to: n, by: chunk) {
                    let rows = min(chunk, n - first)
                    let visible = position + first + rows
                    let q = query.pointer + first * c.queryWidth + h * d
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(visible), Int32(d), scale,
                                q, Int32(c.queryWidth), keysF32 + kvOffset, Int32(c.keyValueWidth),
                                0, headScores, Int32(visible))
                    for i in 0..<rows {
                        softmax(headScores + i * visible, position + first + i + 1, zeroingUpTo: visible,
                                roundingToHalf: halfPrecision)
                    }
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(d), Int32(visible), 1,
                                headScores, Int32(visible), valuesF32 + kvOffset, Int32(c.keyValueWidth),
                                0, q, Int32(c.queryWidth))
                }
            }
        }
    }
}

/// In-place softmax of the first `count` values; entries from `count` up to `zeroingUpTo` are
/// set to 0 (the causal mask of a prompt batch). `roundingToHalf` rounds the results to f16,
/// as ggml does before multiplying them with an f16 value cache.
@inline(__always)
private func softmax(_ values: UnsafeMutablePointer<Float>, _ count: Int, zeroingUpTo end: Int = 0, roundingToHalf: Bool) {
    VectorMath.softmax(values, count: count)
    if roundingToHalf {
        for i in 0..<count { values[i] = Float(Float16(values[i])) }
    }
    if end > count { (values + count).update(repeating: 0, count: end - count) }
}

/// A fixed-size, zero-filled float buffer owned by a session.
private final class Buffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    private let pages: ZeroedPages
    init(_ count: Int) {
        self.count = count
        pages = ZeroedPages(byteCount: count * MemoryLayout<Float>.stride)
        pointer = pages.pointer.bindMemory(to: Float.self, capacity: count)
    }
}

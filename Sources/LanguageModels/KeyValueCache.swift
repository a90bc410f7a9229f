import Tensors

/// The keys and values of every layer at every position a session has evaluated.
///
/// `.f16` is llama.cpp's default: half the memory and bandwidth, and ggml's f16 matrix products
/// also round the query and the attention weights to f16, which ``usesHalfPrecision`` tells the
/// session to mirror so that tokens agree with llama.cpp's. `.f32` keeps full precision (the
/// reference comparisons with `transformers` use it).
public final class KeyValueCache {
    public enum Precision: String, Sendable, CaseIterable {
        case f16, f32
    }

    public let precision: Precision
    public let layerCount: Int
    public let capacity: Int
    /// Floats per position per layer (key/value heads times head dimension).
    public let width: Int
    private let keys: [UnsafeMutableRawPointer]
    private let values: [UnsafeMutableRawPointer]
    /// One mapping for every layer: positions not yet stored take no memory.
    private let storage: ZeroedPages

    init(precision: Precision, layerCount: Int, capacity: Int, width: Int) {
        (self.precision, self.layerCount, self.capacity, self.width) = (precision, layerCount, capacity, width)
        // Each layer's keys, then its values, on 64-byte boundaries.
        let bytes = (capacity * width * (precision == .f16 ? 2 : 4) + 63) / 64 * 64
        storage = ZeroedPages(byteCount: 2 * layerCount * bytes)
        keys = (0..<layerCount).map { [storage] in storage.pointer + 2 * $0 * bytes }
        values = (0..<layerCount).map { [storage] in storage.pointer + (2 * $0 + 1) * bytes }
    }

    var usesHalfPrecision: Bool { precision == .f16 }

    /// Bytes reserved for keys and values at full capacity (resident only as positions are stored).
    public var byteCount: Int { 2 * layerCount * capacity * width * (precision == .f16 ? 2 : 4) }

    /// Stores `count` positions of keys and values (`count * width` floats each) from `position` on.
    func store(layer: Int, at position: Int, count: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>) {
        let start = position * width, n = count * width
        switch precision {
        case .f16:
            let (kd, vd) = (halves(keys[layer]) + start, halves(values[layer]) + start)
            for i in 0..<n { kd[i] = Float16(k[i]); vd[i] = Float16(v[i]) }
        case .f32:
            floats(keys[layer]).advanced(by: start).update(from: k, count: n)
            floats(values[layer]).advanced(by: start).update(from: v, count: n)
        }
    }

    /// `q · key[position]` over `count` values starting at `offset` within the position.
    @inline(__always)
    func dotKey(layer: Int, position: Int, offset: Int, _ q: UnsafePointer<Float>, count: Int) -> Float {
        let start = position * width + offset
        switch precision {
        case .f16: return VectorMath.dot(q, halves(keys[layer]) + start, count: count)
        case .f32: return VectorMath.dot(q, floats(keys[layer]) + start, count: count)
        }
    }

    /// `out = Σₜ weights[t] · value[t]` over positions `0..<count`, `dimension` values from
    /// `offset`, summed as ggml's `ggml_vec_dot_f16` sums each output (llama.cpp multiplies the
    /// transposed value cache with the weights): positions `t ≡ t' (mod 64)` share a running
    /// sum, and the 64 sums are combined as ``VectorMath/ggmlReduce(_:_:_:_:)`` combines its lanes.
    /// All outputs at once, the partial sums in `partials` (64 · `dimension` floats).
    func weightedSumOfValues(layer: Int, offset: Int, weights: UnsafePointer<Float>, count: Int, dimension: Int,
                             partials: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let used = min(64, count)
        partials.update(repeating: 0, count: used * dimension)
        for t in 0..<count {
            let sum = partials + (t % 64) * dimension, w = weights[t], start = t * width + offset
            switch precision {
            case .f16:
                let v = halves(values[layer]) + start
                for j in 0..<dimension { sum[j].addProduct(w, Float(v[j])) }
            case .f32:
                let v = floats(values[layer]) + start
                for j in 0..<dimension { sum[j].addProduct(w, v[j]) }
            }
        }
        // Lanes past `used` hold zeros: adding them changes nothing, so they are skipped.
        func add(_ a: Int, _ b: Int) {
            guard b < used else { return }
            for j in 0..<dimension { partials[a * dimension + j] += partials[b * dimension + j] }
        }
        for lane in 0..<16 { add(lane, 32 + lane); add(16 + lane, 48 + lane) }
        for lane in 0..<16 { add(lane, 16 + lane) }
        var half = 8
        while half > 0 {
            for lane in 0..<half { add(lane, lane + half) }
            half /= 2
        }
        out.update(from: partials, count: dimension)
    }

    /// The first `positions` positions of a layer's keys and values as floats, for the GEMMs.
    /// Returns pointers into the cache itself when it already holds floats.
    func floatViews(layer: Int, positions: Int, keyScratch: UnsafeMutablePointer<Float>,
                    valueScratch: UnsafeMutablePointer<Float>, pool: ThreadPool) -> (UnsafePointer<Float>, UnsafePointer<Float>) {
        switch precision {
        case .f32:
            return (UnsafePointer(floats(keys[layer])), UnsafePointer(floats(values[layer])))
        case .f16:
            let (k, v) = (halves(keys[layer]), halves(values[layer]))
            pool.parallelFor(positions * width, granularity: 1024) { range in
                for i in range { keyScratch[i] = Float(k[i]); valueScratch[i] = Float(v[i]) }
            }
            return (UnsafePointer(keyScratch), UnsafePointer(valueScratch))
        }
    }

    private func halves(_ p: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Float16> { p.assumingMemoryBound(to: Float16.self) }
    private func floats(_ p: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Float> { p.assumingMemoryBound(to: Float.self) }
}

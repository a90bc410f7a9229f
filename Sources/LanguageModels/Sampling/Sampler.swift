import Tensors
import Foundation

/// Chooses tokens from logits: repetition penalty, then an optional constraint mask, then
/// greedy choice or top-k, top-p, min-p and temperature sampling (llama.cpp's order).
public struct Sampler {
    public let parameters: SamplingParameters
    private var random: SplitMix64

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        random = SplitMix64(seed: parameters.seed)
    }

    /// The next token given `logits` (modified in place), the tokens so far (`history`) and
    /// `allowed`, a filter a grammar may impose (nil = every token allowed).
    public mutating func sample(_ logits: inout [Float], history: [Int], allowed: ((Int) -> Bool)? = nil) -> Int {
        applyRepetitionPenalty(&logits, history: history)
        if let allowed {
            for i in logits.indices where !allowed(i) { logits[i] = -.infinity }
        }
        if parameters.temperature <= 0 {
            return argmax(logits)
        }
        var candidates = logits.indices.filter { logits[$0] > -.infinity }
        guard !candidates.isEmpty else { return argmax(logits) }
        candidates.sort { logits[$0] > logits[$1] }
        if parameters.topK > 0 { candidates = Array(candidates.prefix(parameters.topK)) }
        // Probabilities at temperature 1 decide the top-p and min-p cut-offs, as in llama.cpp.
        let top = logits[candidates[0]]
        var probabilities = candidates.map { expf(logits[$0] - top) }
        let total = probabilities.reduce(0, +)
        probabilities = probabilities.map { $0 / total }
        var keep = candidates.count
        if parameters.topP < 1 {
            var cumulative: Float = 0
            for (i, p) in probabilities.enumerated() {
                cumulative += p
                if cumulative >= parameters.topP { keep = min(keep, i + 1); break }
            }
        }
        if parameters.minP > 0 {
            let floor = parameters.minP * probabilities[0]
            keep = min(keep, max(1, probabilities.prefix(keep).firstIndex { $0 < floor } ?? keep))
        }
        let kept = candidates.prefix(keep)
        let weights = kept.map { expf((logits[$0] - top) / parameters.temperature) }
        var target = Float(random.nextUnit()) * weights.reduce(0, +)
        for (token, weight) in zip(kept, weights) {
            target -= weight
            if target <= 0 { return token }
        }
        return kept.last!
    }

    private func applyRepetitionPenalty(_ logits: inout [Float], history: [Int]) {
        guard parameters.repetitionPenalty != 1 else { return }
        for token in Set(history.suffix(parameters.repetitionWindow)) where logits.indices.contains(token) {
            logits[token] = logits[token] > 0 ? logits[token] / parameters.repetitionPenalty
                                              : logits[token] * parameters.repetitionPenalty
        }
    }
}

/// Index of the largest value (the first one on ties, as llama.cpp's greedy sampler does).
public func argmax(_ values: [Float]) -> Int {
    var best = 0
    for i in values.indices where values[i] > values[best] { best = i }
    return best
}

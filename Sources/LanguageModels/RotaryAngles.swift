import Foundation

/// RoPE's rotation angle for each pair of a head's dimensions at a position, computed the way
/// the runtime the weights come from computes it (``LlamaConfiguration/RopeAngles``): the two
/// ways differ in the last bits, and in a quantised model a last-bit difference is enough to
/// move a later 8-bit rounding and with it a greedy continuation.
struct RotaryAngles {
    private let arithmetic: LlamaConfiguration.RopeAngles
    private let inverseFrequencies: [Float]
    /// `ropeTheta^(-2/d)`, the ratio between consecutive pairs' base angles (llama.cpp).
    private let thetaScale: Float
    /// Per pair, what the base angle is divided by (llama.cpp's `rope_freqs`; 1 without one).
    private let divisors: [Float]
    /// Linear scaling's `1 / factor` (llama.cpp's `freq_scale`).
    private let frequencyScale: Float

    init(_ c: LlamaConfiguration) {
        arithmetic = c.ropeAngles
        inverseFrequencies = c.ropeInverseFrequencies()
        thetaScale = powf(c.ropeTheta, -2 / Float(c.headDimension))
        let pairs = c.headDimension / 2
        switch c.ropeScaling {
        case .none:
            (divisors, frequencyScale) = (Array(repeating: 1, count: pairs), 1)
        case .linear(let factor):
            (divisors, frequencyScale) = (Array(repeating: 1, count: pairs), 1 / factor)
        case .frequencyDivisors(let d):
            (divisors, frequencyScale) = (d, 1)
        case .llama3:
            // As llama.cpp's converter stores it: each pair's unscaled over scaled frequency.
            var unscaled = c
            unscaled.ropeScaling = .none
            (divisors, frequencyScale) = (zip(unscaled.ropeInverseFrequencies(), inverseFrequencies).map { $0 / $1 }, 1)
        }
    }

    /// Writes the `headDimension / 2` angles of `position` to `angles`.
    func angles(position: Int, into angles: UnsafeMutablePointer<Float>) {
        let p = Float(position)
        switch arithmetic {
        case .inverseFrequencies:
            for i in inverseFrequencies.indices { angles[i] = p * inverseFrequencies[i] }
        case .ggml:
            // ggml_rope_cache_init: θ walks down by `thetaScale` from the position, pair by pair.
            var theta = p
            for i in divisors.indices {
                angles[i] = frequencyScale * (theta / divisors[i])
                theta *= thetaScale
            }
        }
    }
}

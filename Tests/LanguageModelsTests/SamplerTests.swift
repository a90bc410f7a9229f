import Testing
@testable import LanguageModels

@Suite struct SamplerTests {
    private let logits: [Float] = [1, 5, 3, 4.9, -2]

    @Test func greedyTakesTheLargestAndHonoursTheMask() {
        var sampler = Sampler(.greedy)
        var l = logits
        #expect(sampler.sample(&l, history: []) == 1)
        l = logits
        #expect(sampler.sample(&l, history: [], allowed: { $0 != 1 }) == 3)
    }

    @Test func topKOneIsGreedyEvenWhenHot() {
        var sampler = Sampler(SamplingParameters(temperature: 5, topK: 1, seed: 3))
        for _ in 0..<20 { var l = logits; #expect(sampler.sample(&l, history: []) == 1) }
    }

    @Test func minPAndTopPCutTheTail() {
        // min-p 0.5 keeps tokens with at least half the best probability: ids 1 and 3 only.
        var sampler = Sampler(SamplingParameters(temperature: 1, minP: 0.5, seed: 11))
        var seen = Set<Int>()
        for _ in 0..<200 { var l = logits; seen.insert(sampler.sample(&l, history: [])) }
        #expect(seen == [1, 3])
        // Token 1 alone holds about 47% of the probability: top-p 0.4 keeps only it.
        var nucleus = Sampler(SamplingParameters(temperature: 1, topP: 0.4, seed: 5))
        for _ in 0..<50 { var l = logits; #expect(nucleus.sample(&l, history: []) == 1) }
    }

    @Test func repetitionPenaltyDemotesSeenTokens() {
        var sampler = Sampler(SamplingParameters(repetitionPenalty: 1.1))
        var l = logits
        #expect(sampler.sample(&l, history: [1]) == 3)  // 5 / 1.1 < 4.9
        #expect(l[1] == 5 / 1.1)
    }
}

import Foundation

/// Placeholder until this transport is written: every call reports the skill unavailable.
public struct MCPTransport: SkillTransport {
    public let manifest: SkillManifest

    public init(manifest: SkillManifest) {
        self.manifest = manifest
    }

    public func call(_ invocation: SkillInvocation) async throws(SkillError) -> SkillReply {
        throw SkillError(.unavailable, skill: manifest.name, "the \(manifest.transport.kind) transport is not implemented yet")
    }

    public func health() async -> SkillHealth { .down("transport not implemented") }

    public func shutdown() async {}
}

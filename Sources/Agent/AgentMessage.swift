import Skills

/// One turn of the agent's conversation, independent of how a backend renders it.
public struct AgentMessage: Sendable, Equatable {
    public enum Role: String, Sendable {
        case system, user, assistant
    }

    public var role: Role
    public var text: String
    /// Images shown with this turn, in order: the user's photos, and the images skills made.
    public var images: [Artifact]

    public init(_ role: Role, _ text: String, images: [Artifact] = []) {
        (self.role, self.text, self.images) = (role, text, images)
    }
}

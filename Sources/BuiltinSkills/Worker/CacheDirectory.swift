import Foundation

/// Where the built-in skills keep what they can recompute (class-name embeddings, indexes of
/// folders they must not write into): `$XDG_CACHE_HOME/llava-plus`, or `~/.cache/llava-plus`.
/// Never the model store: a file there would make `models verify` report its asset damaged.
public func userCacheDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
    let base: URL
    if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
        base = URL(fileURLWithPath: xdg)
    } else {
        base = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
    }
    return base.appendingPathComponent("llava-plus")
}

/// The record `scripts/install_assets.py` keeps in `<store>/store.json`: what each installed
/// asset is, where it came from, and the size and SHA-256 of every file it installed.
public struct StoreRecord: Codable, Sendable {
    /// Version of this layout; readers refuse others.
    public var format: Int
    /// Installed assets by name.
    public var assets: [String: Asset]

    /// One installed asset.
    public struct Asset: Codable, Sendable {
        public var title: String
        public var kind: String
        /// The file or folder programs use, relative to the asset's folder.
        public var main: String
        public var source: Source
        public var files: [File]
        /// When setup installed it (UTC, ISO 8601).
        public var installed: String
    }

    /// The package an asset was extracted from, verified by its SHA-256 before extraction.
    public struct Source: Codable, Sendable {
        /// `pypi` or `debian`.
        public var registry: String
        public var package: String
        public var version: String
        public var file: String
        public var sha256: String
    }

    /// One installed file, relative to the asset's folder.
    public struct File: Codable, Sendable {
        public var path: String
        public var size: Int
        public var sha256: String
    }

    /// The layout version this code reads.
    public static let currentFormat = 1
}

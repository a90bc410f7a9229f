import Foundation

/// Why the model store or one of its assets cannot be used, worded for the person at the terminal.
public enum StoreError: Error, CustomStringConvertible, Equatable {
    case notFound(searched: [String])
    case badRecord(URL, String)
    case notInstalled(name: String, store: URL, installed: [String])
    case damaged(name: String, problems: [String])
    case unreadable(URL, String)

    public var description: String {
        switch self {
        case .notFound(let searched):
            return "no model store found (looked in \(searched.joined(separator: ", "))): "
                + "run scripts/setup.sh, or set LLAVA_PLUS_MODELS to the store's folder"
        case .badRecord(let url, let why):
            return "\(url.path): \(why); re-run scripts/setup.sh to rebuild it"
        case .notInstalled(let name, let store, let installed):
            return "asset '\(name)' is not installed in \(store.path) "
                + "(installed: \(installed.joined(separator: ", "))); run scripts/setup.sh"
        case .damaged(let name, let problems):
            return "asset '\(name)' is damaged: \(problems.joined(separator: "; ")); "
                + "run scripts/setup.sh to repair it"
        case .unreadable(let url, let why):
            return "\(url.path): cannot read: \(why)"
        }
    }
}

import Foundation
import Testing
@testable import ModelStore

@Suite struct SHA256Tests {
    /// FIPS 180-2 test vectors.
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func knownVectors(input: String, digest: String) {
        #expect(SHA256.hexDigest(of: Array(input.utf8)) == digest)
    }

    /// A file spanning several read chunks hashes the same as the bytes in memory.
    @Test func fileDigestEqualsMemoryDigest() throws {
        var bytes = [UInt8](repeating: 0, count: 9 << 20 + 123)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID()).bin")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try SHA256.hexDigest(ofFile: url) == SHA256.hexDigest(of: bytes))
    }

    @Test func missingFileIsAClearError() {
        let url = URL(fileURLWithPath: "/nonexistent/weights.gguf")
        #expect(throws: StoreError.self) { try SHA256.hexDigest(ofFile: url) }
    }
}

import COpenSSL
import Foundation

/// SHA-256 digests through OpenSSL's libcrypto (hardware SHA extensions where the CPU has them).
public enum SHA256 {
    /// Lowercase hex digest of a whole file, read in 4 MiB chunks into one reused buffer.
    public static func hexDigest(ofFile url: URL) throws -> String {
        let descriptor = open(url.path, O_RDONLY)
        guard descriptor >= 0 else { throw StoreError.unreadable(url, String(cString: strerror(errno))) }
        defer { close(descriptor) }
        let context = Context()
        let chunk = 4 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let count = read(descriptor, buffer, chunk)
            if count == 0 { break }
            guard count > 0 else { throw StoreError.unreadable(url, String(cString: strerror(errno))) }
            context.update(UnsafeRawBufferPointer(start: buffer, count: count))
        }
        return context.finalHex()
    }

    /// Lowercase hex digest of bytes in memory.
    public static func hexDigest(of bytes: some ContiguousBytes) -> String {
        let context = Context()
        bytes.withUnsafeBytes { context.update($0) }
        return context.finalHex()
    }

    /// One EVP digest context, freed with its owner.
    private final class Context {
        let handle: OpaquePointer

        init() {
            handle = EVP_MD_CTX_new()
            EVP_DigestInit_ex(handle, EVP_sha256(), nil)
        }

        deinit { EVP_MD_CTX_free(handle) }

        func update(_ bytes: UnsafeRawBufferPointer) {
            if let base = bytes.baseAddress { EVP_DigestUpdate(handle, base, bytes.count) }
        }

        func finalHex() -> String {
            var digest = [UInt8](repeating: 0, count: 32)
            var length: UInt32 = 0
            EVP_DigestFinal_ex(handle, &digest, &length)
            return digest.map { String(format: "%02x", $0) }.joined()
        }
    }
}

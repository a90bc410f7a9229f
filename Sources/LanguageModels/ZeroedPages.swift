import Foundation

/// Zero-filled memory mapped straight from the kernel. Pages become resident only when first
/// written, so a cache or scratch buffer sized for the whole context or the longest batch costs
/// memory only for what a conversation actually uses (`malloc` gives no such promise: it may
/// reuse, and `initialize(repeating:)` would touch, every page).
final class ZeroedPages {
    let pointer: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) {
        self.byteCount = max(byteCount, 1)
        let p = mmap(nil, self.byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != UnsafeMutableRawPointer(bitPattern: -1) else {
            fatalError("cannot map \(self.byteCount) bytes: \(String(cString: strerror(errno)))")
        }
        pointer = p
    }

    deinit { munmap(pointer, byteCount) }
}

import CBLAS

/// Float matrix products through OpenBLAS, the fastest float GEMM available here.
public enum MatrixMultiply {
    /// `c[m×n] = a[m×k] · b[k×n]` (or `· bᵀ` when `transposeB`, with `b` stored as `[n×k]`),
    /// all row-major, written into `c` (overwritten, not accumulated).
    public static func gemm(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, b: UnsafePointer<Float>, transposeB: Bool = false,
        c: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), 1.0,
                    a, Int32(k), b, Int32(transposeB ? k : n), 0.0, c, Int32(n))
    }
}

extension Tensor {
    /// Matrix product of two rank-2 tensors: `[m, k] · [k, n] -> [m, n]`.
    public func matmul(_ other: Tensor) -> Tensor {
        precondition(rank == 2 && other.rank == 2 && shape[1] == other.shape[0],
                     "matmul needs [m, k] · [k, n], got \(shape) · \(other.shape)")
        let (m, k, n) = (shape[0], shape[1], other.shape[1])
        var out = Tensor(repeating: 0, shape: [m, n])
        scalars.withUnsafeBufferPointer { a in
            other.scalars.withUnsafeBufferPointer { b in
                out.scalars.withUnsafeMutableBufferPointer { c in
                    MatrixMultiply.gemm(m: m, n: n, k: k, a: a.baseAddress!, b: b.baseAddress!,
                                        c: c.baseAddress!)
                }
            }
        }
        return out
    }
}

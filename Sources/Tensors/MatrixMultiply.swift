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

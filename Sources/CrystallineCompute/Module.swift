// CrystallineCompute: the numerical floor of Crystalline.
//
// Owns the packed GEMM (all three forms used by backprop), the persistent thread pool every
// parallel loop runs on, vectorised elementwise math (exp, tanh), and the seeded random number
// generator. Knows nothing about models, tokens or files. Kernels work on raw contiguous Float
// storage through unsafe pointers; callers keep the safe API above them.
import CCPUFeatures

/// Facts about the SIMD code generation of this build.
public enum BuildFeatures {
    /// True when the kernels were compiled with hardware fused multiply-add (AVX2+FMA or NEON).
    /// Without it `SIMD8<Float>.addingProduct` becomes a libm call and training runs ~150x slower.
    public static var hasFusedMultiplyAdd: Bool { cllm_compiled_with_fma() != 0 }
    /// Human-readable name of the SIMD level compiled in.
    public static var simdName: String { String(cString: cllm_compiled_simd_name()) }
}

// The GEMM micro-kernel and the packing routines that feed it.
//
// Packed A: panels of MR rows (6 for the SIMD8 kernel, 8 for the AVX-512 one), k-major
// (a[p*MR + r]); packed B: panels of NR columns (16 and 32), k-major (b[p*NR + c]). Panels past the
// matrix edge are zero-padded, so the kernel never branches.
import CKernels

/// C[6×16] (+)= A[6×kc] · Bpanel[kc×16]; twelve accumulators stay in registers. Row r of A at
/// step p is a[r*rsA + p*csA]: packed panels have rsA = 1, csA = 6; a row-major matrix read in
/// place has rsA = lda, csA = 1.
@inline(__always)
func microKernel6x16(kc: Int, a: UnsafePointer<Float>, rsA: Int, csA: Int, b: UnsafePointer<Float>,
                     c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
    var c00 = Vec8(), c01 = Vec8(), c10 = Vec8(), c11 = Vec8(), c20 = Vec8(), c21 = Vec8()
    var c30 = Vec8(), c31 = Vec8(), c40 = Vec8(), c41 = Vec8(), c50 = Vec8(), c51 = Vec8()
    let a0 = a, a1 = a + rsA, a2 = a + 2 * rsA, a3 = a + 3 * rsA, a4 = a + 4 * rsA, a5 = a + 5 * rsA
    var bp = b
    var idx = 0
    for _ in 0..<kc {
        let b0 = load8(bp), b1 = load8(bp + 8)
        var av = Vec8(repeating: a0[idx]); c00 = c00.addingProduct(av, b0); c01 = c01.addingProduct(av, b1)
        av = Vec8(repeating: a1[idx]); c10 = c10.addingProduct(av, b0); c11 = c11.addingProduct(av, b1)
        av = Vec8(repeating: a2[idx]); c20 = c20.addingProduct(av, b0); c21 = c21.addingProduct(av, b1)
        av = Vec8(repeating: a3[idx]); c30 = c30.addingProduct(av, b0); c31 = c31.addingProduct(av, b1)
        av = Vec8(repeating: a4[idx]); c40 = c40.addingProduct(av, b0); c41 = c41.addingProduct(av, b1)
        av = Vec8(repeating: a5[idx]); c50 = c50.addingProduct(av, b0); c51 = c51.addingProduct(av, b1)
        idx += csA; bp += 16
    }
    @inline(__always) func put(_ row: Int, _ v0: Vec8, _ v1: Vec8) {
        let p = c + row * ldc
        if accumulate {
            store8(load8(p) + v0, p); store8(load8(p + 8) + v1, p + 8)
        } else {
            store8(v0, p); store8(v1, p + 8)
        }
    }
    put(0, c00, c01); put(1, c10, c11); put(2, c20, c21)
    put(3, c30, c31); put(4, c40, c41); put(5, c50, c51)
}

/// Full tile from a packed A panel.
@inline(never)
func microKernel6x16Packed(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                           c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
    microKernel6x16(kc: kc, a: a, rsA: 1, csA: 6, b: b, c: c, ldc: ldc, accumulate: accumulate)
}

/// Full tile with six rows of a row-major A read in place (row stride `lda`).
@inline(never)
func microKernel6x16Rows(kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
                         c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
    microKernel6x16(kc: kc, a: a, rsA: lda, csA: 1, b: b, c: c, ldc: ldc, accumulate: accumulate)
}

/// Partial tile at the right or bottom edge: compute the full 6×16 product into a stack tile,
/// then write only the valid `rows × cols`. `a` is a packed panel, or six in-place rows when
/// `lda` is given.
@inline(never)
func microKernelEdge(kc: Int, a: UnsafePointer<Float>, lda: Int? = nil, b: UnsafePointer<Float>,
                     c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int, accumulate: Bool) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 96) { tile in
        let t = tile.baseAddress!
        if let lda {
            microKernel6x16(kc: kc, a: a, rsA: lda, csA: 1, b: b, c: t, ldc: 16, accumulate: false)
        } else {
            microKernel6x16(kc: kc, a: a, rsA: 1, csA: 6, b: b, c: t, ldc: 16, accumulate: false)
        }
        for r in 0..<rows {
            let dst = c + r * ldc, src = t + r * 16
            if accumulate { for j in 0..<cols { dst[j] += src[j] } } else { for j in 0..<cols { dst[j] = src[j] } }
        }
    }
}

/// Packs an mc×kc block of A (element (i,p) at a[i*rsA + p*csA]) into `panelHeight`-row panels.
func packA(mc: Int, kc: Int, panelHeight MR: Int, a: UnsafePointer<Float>, rsA: Int, csA: Int,
           into dst: UnsafeMutablePointer<Float>) {
    var out = dst
    var i = 0
    while i < mc {
        let rows = min(MR, mc - i)
        if rows == MR && rsA == 1 {
            // A read transposed: the MR rows of a panel are contiguous for each p.
            cllm_pack_a_transposed(kc, MR, a + i, csA, out)
        } else {
            // Partial panels at the bottom edge (zero-padded) and row-major panels.
            var o = out
            for p in 0..<kc {
                for r in 0..<MR { o[r] = r < rows ? a[(i + r) * rsA + p * csA] : 0 }
                o += MR
            }
        }
        out += MR * kc
        i += MR
    }
}

/// Packs a kc×nc block of B (element (p,j) at b[p*rsB + j*csB]) into `panelWidth`-column
/// panels, widening bfloat16 to float on the way (the micro-kernel always works in float32).
@inline(__always)
func packB<T: GEMMElement>(kc: Int, nc: Int, panelWidth NR: Int, b: UnsafePointer<T>, rsB: Int, csB: Int,
                           into dst: UnsafeMutablePointer<Float>) {
    if T.self == Float.self {
        packB(kc: kc, nc: nc, panelWidth: NR, b: UnsafeRawPointer(b).assumingMemoryBound(to: Float.self),
              rsB: rsB, csB: csB, into: dst)
        return
    }
    // bfloat16: widened in C (vpmovzxwd; Swift's SIMD lane conversions are scalar loops).
    precondition(T.self == BFloat16.self, "GEMM B operands are Float or BFloat16")
    let bits = UnsafeRawPointer(b).assumingMemoryBound(to: UInt16.self)
    var j = 0
    while j < nc {
        cllm_pack_b_bf16(kc, min(NR, nc - j), NR, bits + j * csB, rsB, csB, dst + j * kc)
        j += NR
    }
}

/// Packs a kc×nc block of B (element (p,j) at b[p*rsB + j*csB]) into `panelWidth`-column panels
/// (a multiple of 8).
func packB(kc: Int, nc: Int, panelWidth NR: Int, b: UnsafePointer<Float>, rsB: Int, csB: Int,
           into dst: UnsafeMutablePointer<Float>) {
    var out = dst
    var j = 0
    while j < nc {
        let cols = min(NR, nc - j)
        if cols == NR && csB == 1 {
            for p in 0..<kc {
                let src = b + p * rsB + j
                var c = 0
                while c < NR { store8(load8(src + c), out + c); c += 8 }
                out += NR
            }
        } else if csB == 1 {
            for p in 0..<kc {
                let src = b + p * rsB + j
                for c in 0..<NR { out[c] = c < cols ? src[c] : 0 }
                out += NR
            }
        } else if rsB == 1 {
            // B read transposed: column j of op(B) is row j of storage, contiguous in p.
            cllm_pack_b_transposed(kc, cols, NR, b + j * csB, csB, out)
            out += NR * kc
        } else {
            for c in 0..<NR {
                var o = out + c
                for p in 0..<kc { o.pointee = c < cols ? b[p * rsB + (j + c) * csB] : 0; o += NR }
            }
            out += NR * kc
        }
        j += NR
    }
}

// The bfloat16 product on AMX tiles: the loop nest of the other paths (column blocks of NC,
// depth blocks of KC, row blocks), with the operand layouts `tdpbf16ps` reads.
//
// B is packed as for `vdpbf16ps` (pairs of k steps in 32-column panels), its pair rows padded
// with zeros to a multiple of 16, the depth of one tile. A is packed by the same packer into
// 8-row panels and then turned into rows of pairs (`cllm_amx_rows_from_panels`), 32 rows per
// micro-kernel call, zero-padded at the bottom edge. A row block is 96 rows, so that both A
// buffers fit the thread's A scratch (2 · 96 · 192 slots ≤ MC · KC floats).
import CKernels

/// Rows of A per block on the AMX path (three 32-row micro-kernel calls).
let amxRowBlock = 96

/// The serial product on AMX tiles (`modeled` 1: on the software model of the tile
/// instructions, for the tests). C[m×n] (+)= bf16(op(A))·bf16(op(B)), float32 accumulation.
func gemmSerialAMX<BElement: GEMMElement>(m: Int, n: Int, k: Int,
                   a: UnsafePointer<Float>, rsA: Int, csA: Int, b: UnsafePointer<BElement>, rsB: Int, csB: Int,
                   c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, scratch: PackScratch, modeled: Int32) {
    let MR = 32, NR = 32
    precondition(BElement.self == BFloat16.self || BElement.self == Float.self, "GEMM B operands are Float or BFloat16")
    let bIsBF16: Int32 = BElement.self == BFloat16.self ? 1 : 0
    let slotsA = UnsafeMutableRawPointer(scratch.a).assumingMemoryBound(to: UInt32.self)
    let maxPairs = (GEMMBlocking.kc + 1) / 2
    let aPanels = slotsA, aRows = slotsA + amxRowBlock * maxPairs
    let bPanels = UnsafeMutableRawPointer(scratch.b).assumingMemoryBound(to: UInt32.self)
    cllm_amx_begin(modeled)
    defer { cllm_amx_end(modeled) }
    var jc = 0
    while jc < n {
        let nc = GEMMBlocking.columnBlock(n - jc)
        var pc = 0
        while pc < k {
            let kc = min(GEMMBlocking.kc, k - pc)   // even: pairs never straddle blocks
            let pairs = (kc + 1) / 2
            let depth = (pairs + 15) / 16 * 16       // pair rows per panel, whole tiles
            cllm_pack_bf16_pairs_padded(kc, nc, NR, UnsafeRawPointer(b + pc * rsB + jc * csB), bIsBF16, rsB, csB, depth, bPanels)
            let add: Int32 = accumulate || pc > 0 ? 1 : 0
            var ic = 0
            while ic < m {
                let mc = min(amxRowBlock, m - ic)
                cllm_pack_bf16_pairs(kc, mc, 8, a + ic * rsA + pc * csA, csA, rsA, aPanels)
                cllm_amx_rows_from_panels(pairs, mc, aPanels, depth, (mc + MR - 1) / MR * MR, aRows)
                var jr = 0
                while jr < nc {
                    let bp = bPanels + jr / NR * depth * NR
                    var ir = 0
                    while ir < mc {
                        cllm_gemm_bf16_amx_32x32(depth / 16, aRows + ir * depth, depth, bp, c + (ic + ir) * ldc + jc + jr, ldc,
                                                 add, Int32(min(MR, mc - ir)), Int32(min(NR, nc - jr)), modeled)
                        ir += MR
                    }
                    jr += NR
                }
                ic += amxRowBlock
            }
            pc += GEMMBlocking.kc
        }
        jc += nc
    }
}

/// A product whose every partial sum is exact in float32 (entries are multiples of 1/8 in
/// [-1, 1], so bfloat16-exact; 100 products of multiples of 1/64 stay far inside 24 bits), so
/// any correct bfloat16 kernel gives it bit for bit, whatever its summation order: 40×40 (the
/// edges of the 32×32 tile block) by a depth of 100 (six whole 16-pair tiles and a padded tail).
func exactBF16CheckProduct(path: GEMMPath) -> [Float] {
    let m = 40, n = 40, k = 100
    let a = (0..<(m * k)).map { Float(($0 * 37) % 17 - 8) / 8 }
    let b = (0..<(k * n)).map { Float(($0 * 23) % 13 - 6) / 8 }
    var c = [Float](repeating: 0, count: m * n)
    gemm(m: m, n: n, k: k, a: a, lda: k, transA: .none, b: b, ldb: n, transB: .none, c: &c, ldc: n,
         accumulate: false, bias: nil, worker: 0, path: path)
    return c
}

/// Whether the AMX hardware agrees with the model of the tile instructions on
/// `exactBF16CheckProduct`. Run once before the tiles are used: should a CPU's tiles ever
/// disagree, bf16 products stay on `vdpbf16ps` and a warning says so (and
/// `BF16GEMMTests.testAMXIsUsedWhereTheCPUHasIt` fails on that machine).
func amxAgreesWithModel() -> Bool {
    exactBF16CheckProduct(path: .bfloat16(.amx)) == exactBF16CheckProduct(path: .modeledTiles)
}

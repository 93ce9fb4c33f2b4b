// The bfloat16 path of the GEMM: products of bfloat16-rounded operands accumulated in float32,
// as PyTorch's CPU autocast computes them, on the CPU's bfloat16 dot-product instructions.
//
// The loop nest is the float32 one (GEMM.swift); what differs is the packing: both operands
// are always packed (A too, since it must be rounded anyway), as 32-bit slots that each hold
// two consecutive k steps, the operand shape `vdpbf16ps` multiplies.
import CKernels
import Foundation

/// The arithmetic of a product's multiplications (accumulation is always float32).
public enum GEMMArithmetic: String, Sendable, CaseIterable {
    /// float32 × float32 (B may be stored as bfloat16; it is widened exactly).
    case float32
    /// Both operands rounded to bfloat16 (nearest even), products summed in float32.
    case bfloat16
}

/// The bfloat16 micro-kernels, chosen at run time by CPUID.
///
/// `CLLM_BF16_KERNEL=none` turns the bfloat16 path off, so that `.bfloat16` products run in
/// float32 as on a CPU without the instructions (to compare the two on one machine);
/// `CLLM_BF16_KERNEL=avx512bf16` keeps a CPU with AMX on the `vdpbf16ps` kernel.
public enum BF16GEMMKernel: String, Sendable, CaseIterable {
    /// 8×32 tile, sixteen zmm accumulators, `vdpbf16ps` (AVX512_BF16: AMD Zen 4, Intel Cooper
    /// Lake and later).
    case avx512bf16
    /// 32×32 block of four 16×16 AMX tiles, `tdpbf16ps` (Intel Sapphire Rapids and later).
    /// Products whose B is packed beforehand (`PackedOperand`, attention) stay on the
    /// `vdpbf16ps` kernel, which every AMX CPU also has.
    case amx

    public var panelHeight: Int { self == .amx ? 32 : 8 }
    public var panelWidth: Int { 32 }
    /// Floating-point operations one instruction does: `vdpbf16ps` 16 lanes × 2 products ×
    /// (multiply + add); `tdpbf16ps` a 16×16 tile × 16 pairs × 2 products × 2.
    public var flopsPerInstruction: Int { self == .amx ? 16 * 16 * 32 * 2 : 64 }
    /// Name for reports.
    public var isaName: String { self == .amx ? "AMX-BF16 (tdpbf16ps)" : "AVX512_BF16 (vdpbf16ps)" }

    /// The kernels this CPU can run (asking Linux for the AMX tile state on first use, and
    /// checking the tiles against their model on one exact product, see `amxAgreesWithModel`).
    public static let available: [BF16GEMMKernel] = {
        guard cllm_cpu_has_avx512_bf16() != 0 else { return [] }
        guard cllm_cpu_has_amx_bf16() != 0 else { return [.avx512bf16] }
        if amxAgreesWithModel() { return [.avx512bf16, .amx] }
        FileHandle.standardError.write(Data("warning: this CPU's AMX tiles disagreed with their model on a check product; bf16 products use vdpbf16ps\n".utf8))
        return [.avx512bf16]
    }()
    /// The kernel `.bfloat16` products use, or nil where there is none (they run in float32).
    public static let active: BF16GEMMKernel? = {
        let choice = ProcessInfo.processInfo.environment["CLLM_BF16_KERNEL"]?.lowercased()
        if choice == "none" { return nil }
        if let choice, let named = BF16GEMMKernel(rawValue: choice), available.contains(named) { return named }
        return available.last
    }()
}

/// Which kernel family runs a product.
enum GEMMPath {
    case float32(GEMMKernel)
    case bfloat16(BF16GEMMKernel)
    /// The AMX path on the software model of the tile instructions (`cllm_amx_begin(1)`): the
    /// tests run it on every CPU, so that the packing and loop of the AMX kernel are checked
    /// where there is no AMX.
    case modeledTiles

    var panelHeight: Int {
        switch self {
        case .float32(let k): return k.panelHeight
        case .bfloat16(let k): return k.panelHeight
        case .modeledTiles: return BF16GEMMKernel.amx.panelHeight
        }
    }
    var panelWidth: Int {
        switch self {
        case .float32(let k): return k.panelWidth
        case .bfloat16(let k): return k.panelWidth
        case .modeledTiles: return BF16GEMMKernel.amx.panelWidth
        }
    }
    /// Whether a packed operand for this path holds bfloat16 pairs.
    var packsPairs: Bool { if case .float32 = self { return false } else { return true } }
}

/// The serial bfloat16 product: C[m×n] (+)= bf16(op(A))·bf16(op(B)), float32 accumulation.
/// Packed panels live in the thread's float scratch, reinterpreted as 32-bit pair slots (they
/// need half the room of the float32 panels: kc/2 slots per column or row).
func gemmSerialBF16<BElement: GEMMElement>(m: Int, n: Int, k: Int,
                    a: UnsafePointer<Float>, rsA: Int, csA: Int, b: BOperand<BElement>,
                    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, scratch: PackScratch) {
    let MR = 8, NR = 32
    let aPanels = UnsafeMutableRawPointer(scratch.a).assumingMemoryBound(to: UInt32.self)
    let bPanels = UnsafeMutableRawPointer(scratch.b).assumingMemoryBound(to: UInt32.self)
    precondition(BElement.self == BFloat16.self || BElement.self == Float.self, "GEMM B operands are Float or BFloat16")
    var jc = 0
    while jc < n {
        let nc = GEMMBlocking.columnBlock(n - jc)
        var pc = 0
        while pc < k {
            let kc = min(GEMMBlocking.kc, k - pc)   // GEMMBlocking.kc is even: pairs never straddle blocks
            let pairs = (kc + 1) / 2
            let bBlock: UnsafePointer<UInt32>, panelStride: Int
            switch b {
            case .stored(let pointer, let rsB, let csB):
                // One call packs the whole block, so each source line is read once.
                let source = UnsafeRawPointer(pointer + pc * rsB + jc * csB)
                if BElement.self == BFloat16.self {
                    cllm_pack_bf16_pairs_from_bf16(kc, nc, NR, source.assumingMemoryBound(to: UInt16.self), rsB, csB, bPanels)
                } else {
                    cllm_pack_bf16_pairs(kc, nc, NR, source.assumingMemoryBound(to: Float.self), rsB, csB, bPanels)
                }
                (bBlock, panelStride) = (UnsafePointer(bPanels), pairs * NR)
            case .quantized:
                preconditionFailure("Q8_0 operands are multiplied in float32 (gemm(quantizedB:))")
            case .packed(let operand):
                let block = operand.panels(depth: pc, column: jc)
                (bBlock, panelStride) = (UnsafePointer(block.pointer.assumingMemoryBound(to: UInt32.self)), block.panelStride)
            }
            let add = accumulate || pc > 0
            var ic = 0
            while ic < m {
                let mc = min(GEMMBlocking.mc, m - ic)
                cllm_pack_bf16_pairs(kc, mc, MR, a + ic * rsA + pc * csA, csA, rsA, aPanels)
                var jr = 0
                while jr < nc {
                    let bp = bBlock + jr / NR * panelStride
                    var ir = 0
                    while ir < mc {
                        cllm_gemm_bf16_8x32(pairs, aPanels + ir * pairs, bp, c + (ic + ir) * ldc + jc + jr, ldc,
                                            add ? 1 : 0, Int32(min(MR, mc - ir)), Int32(min(NR, nc - jr)))
                        ir += MR
                    }
                    jr += NR
                }
                ic += GEMMBlocking.mc
            }
            pc += GEMMBlocking.kc
        }
        jc += nc
    }
}

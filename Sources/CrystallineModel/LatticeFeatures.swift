// The crystalline-lattice options of the model: the geometric embedding initialisation, the
// fixed clock-lattice positional encoding, and the angular attention-bias geometry.
// The math (clock lattice, primes) lives in CrystallineLattice; this file turns it into tensors.
import Foundation
import CrystallineLattice

public enum LatticeFeatures {
    /// The original's twelve frequency multipliers φ.
    public static let phi: [Double] = [3, 7, 31, 12, 19, 5, 11, 13, 17, 23, 29, 37]

    /// The original CLLM formula, before corrections and scaling:
    ///
    ///   E[t][d] = tanh(3^(ring + pos/N_ring) · cos(angle·φ_(d mod 12)) · c(t) · tanh(1 + 0.1·ring + 0.01·d) / 100)
    ///
    /// with the original c(t) = cos(2π(t mod 12)/12), which is zero for t ≡ 3, 9 (mod 12): every
    /// such token got an all-zero row. Corrected: c(t) = cos(2π(t mod 12)/12 + π/24 + lap·π/7),
    /// where the π/24 phase keeps it away from the zeros of cos and `lap` = ⌊(t − 232)/1000⌋
    /// (tokens past the 1000-position outer ring) separates tokens whose ring position and
    /// residue mod 12 coincide, which would otherwise repeat a row.
    public static func rawEmbedding(token t: Int, dim d: Int, corrected: Bool = true) -> Double {
        let p = ClockLattice.point(t)
        let lap = t >= 232 ? (t - 232) / 1000 : 0
        let phase = corrected ? Double.pi / 24 + Double(lap) * .pi / 7 : 0
        let c = cos(2 * .pi * Double(t % 12) / 12 + phase)
        let magnitude = pow(3, Double(p.ring) + Double(p.position) / Double(p.positionsInRing))
        return tanh(magnitude * cos(p.angle * phi[d % 12]) * c * tanh(1 + 0.1 * Double(p.ring) + 0.01 * Double(d)) / 100)
    }

    /// The corrected lattice embedding [V, C], scaled to the standard deviation of the standard
    /// initialisation (0.02).
    public static func embedding(vocabSize V: Int, width C: Int, std: Double = 0.02) -> [Float] {
        var e = [Double](repeating: 0, count: V * C)
        for t in 0..<V { for d in 0..<C { e[t * C + d] = rawEmbedding(token: t, dim: d) } }
        return scaled(e, std: std)
    }

    /// Fixed positional encoding from the clock lattice [T, C]:
    ///   PE[pos][d] = (ring+1)/5 · sin(θ_pos · φ_(d mod 12) · (⌊d/12⌋ + 1) + (π/4)·(d mod 2))
    /// θ_pos is the clock angle of the position; the ring radius separates positions that share
    /// an angle on different rings. Scaled to std 0.02 like a learned table's initialisation.
    public static func positional(blockSize T: Int, width C: Int, std: Double = 0.02) -> [Float] {
        var pe = [Double](repeating: 0, count: T * C)
        for pos in 0..<T {
            let p = ClockLattice.point(pos)
            for d in 0..<C {
                pe[pos * C + d] = Double(p.ring + 1) / 5 * sin(p.angle * phi[d % 12] * Double(d / 12 + 1) + .pi / 4 * Double(d % 2))
            }
        }
        return scaled(pe, std: std)
    }

    /// D[i][j] = clock-angle distance between positions i and j, in [0, π] ([T, T], row-major).
    /// The position distances the attention bias of `config` uses (nil without a bias).
    static func biasDistances(config: GPTConfig) -> FloatBuffer? {
        switch config.attentionBias {
        case .none: return nil
        case .angular: return FloatBuffer(angularDistances(blockSize: config.blockSize))
        case .linear: return FloatBuffer(linearDistances(blockSize: config.blockSize))
        }
    }

    public static func angularDistances(blockSize T: Int) -> [Float] {
        var d = [Float](repeating: 0, count: T * T)
        for i in 0..<T { for j in 0..<T { d[i * T + j] = Float(ClockLattice.angularDistance(i, j)) } }
        return d
    }

    /// The control for the angular bias: D[i][j] = π·|i − j|/T, the same range [0, π] but
    /// monotone in distance, as in ALiBi.
    public static func linearDistances(blockSize T: Int) -> [Float] {
        var d = [Float](repeating: 0, count: T * T)
        for i in 0..<T { for j in 0..<T { d[i * T + j] = Float(Double.pi * Double(abs(i - j)) / Double(T)) } }
        return d
    }

    /// Initial per-head slopes: a geometric sequence as in ALiBi, stretched so that the largest
    /// distance (π) of the first head costs about T/4 in logit units.
    public static func initialSlopes(heads: Int, blockSize T: Int) -> [Float] {
        (0..<heads).map { h in Float(pow(2, -8 * Double(h + 1) / Double(heads)) * Double(T) / .pi) }
    }

    static func scaled(_ x: [Double], std target: Double) -> [Float] {
        let mean = x.reduce(0, +) / Double(x.count)
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count)
        let k = variance > 0 ? target / variance.squareRoot() : 0
        return x.map { Float($0 * k) }
    }
}

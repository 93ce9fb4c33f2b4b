// Inverted dropout: masks hold 0 or 1/(1−p), so evaluation needs no rescaling.
import CrystallineCompute

enum Dropout {
    static func fillMask(_ mask: UnsafeMutablePointer<Float>, count: Int, p: Float, rng: inout Xoshiro256) {
        let keep = 1 / (1 - p)
        for i in 0..<count { mask[i] = rng.nextFloat() < p ? 0 : keep }
    }

    static func apply(_ x: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count { store8(load8(x + i) * load8(mask + i), x + i); i += 8 }
        while i < count { x[i] *= mask[i]; i += 1 }
    }
}

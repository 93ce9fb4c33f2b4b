// Unaligned SIMD loads/stores and vectorised transcendental functions for the kernels.
//
// The exp/tanh here are polynomial approximations accurate to a few ulp in float32; libm's
// scalar versions cost ~10 ns each and GELU alone would call them millions of times per step.

public typealias Vec8 = SIMD8<Float>

@inlinable @inline(__always) public func load8(_ p: UnsafePointer<Float>) -> Vec8 {
    UnsafeRawPointer(p).loadUnaligned(as: Vec8.self)
}
@inlinable @inline(__always) public func load8(_ p: UnsafeMutablePointer<Float>) -> Vec8 {
    UnsafeRawPointer(p).loadUnaligned(as: Vec8.self)
}
@inlinable @inline(__always) public func store8(_ v: Vec8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec8.self)
}

/// exp(x) for eight lanes: range reduction x = n·ln2 + r, degree-6 polynomial for e^r,
/// scaling by 2^n through the exponent bits. Relative error < 2e-7 on [-87, 88].
///
/// Rounding and the float→int conversion use the 1.5·2²³ "magic number" trick: adding it
/// rounds to the nearest integer and leaves that integer in the low mantissa bits. (Swift's
/// generic SIMD conversions compile to scalar loops, which made this function 3× slower.)
@inlinable @inline(__always) public func exp8(_ x: Vec8) -> Vec8 {
    let magic = Vec8(repeating: 12_582_912)  // 1.5 · 2^23
    let xc = clamp8(x, -87.3, 88.3)
    let shifted = xc * 1.442695040888963 + magic
    let n = shifted - magic
    let r = xc - n * 0.693359375 + n * 2.12194440e-4
    var p = Vec8(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    p = p * (r * r) + r + 1
    // Low bits of `shifted` hold n (two's complement); (n + 127) << 23 is 2^n as a float.
    let bits = (unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &+ 127) &<< 23
    return p * unsafeBitCast(bits, to: Vec8.self)
}

/// tanh(x) for eight lanes via tanh(x) = 1 - 2/(e^{2x}+1), with a Taylor branch near zero
/// where that form would lose relative precision.
@inlinable @inline(__always) public func tanh8(_ x: Vec8) -> Vec8 {
    let e = exp8(2 * x)
    let big = 1 - 2 / (e + 1)
    let x2 = x * x
    var poly = Vec8(repeating: -17.0 / 315) * x2 + (2.0 / 15)
    poly = poly * x2 - (1.0 / 3)
    poly = poly * x2 + 1
    let small = x * poly
    return select(abs(x) .< 0.0625, small, big)
}

/// Lane-wise clamp through compare-and-blend (the generic `clamped` compiles to scalar loops).
@inlinable @inline(__always) public func clamp8(_ x: Vec8, _ lo: Float, _ hi: Float) -> Vec8 {
    let l = Vec8(repeating: lo), h = Vec8(repeating: hi)
    return x.replacing(with: l, where: x .< l).replacing(with: h, where: x .> h)
}

@inlinable @inline(__always) public func select(_ m: SIMDMask<SIMD8<Int32>>, _ a: Vec8, _ b: Vec8) -> Vec8 {
    b.replacing(with: a, where: m)
}

@inlinable @inline(__always) func abs(_ v: Vec8) -> Vec8 {
    unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & 0x7fff_ffff, to: Vec8.self)
}

/// Scalar helpers that agree with the vector versions.
@inlinable @inline(__always) public func fastExp(_ x: Float) -> Float { exp8(Vec8(repeating: x))[0] }
@inlinable @inline(__always) public func fastTanh(_ x: Float) -> Float { tanh8(Vec8(repeating: x))[0] }

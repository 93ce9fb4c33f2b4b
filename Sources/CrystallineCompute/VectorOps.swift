// Small BLAS-1 style helpers on contiguous Float runs, vectorised eight lanes at a time.

/// Σ a[i]·b[i] for i in 0..<n.
@inline(__always)
public func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = Vec8(), acc1 = Vec8()
    var i = 0
    while i + 16 <= n {
        acc0 = acc0.addingProduct(load8(a + i), load8(b + i))
        acc1 = acc1.addingProduct(load8(a + i + 8), load8(b + i + 8))
        i += 16
    }
    if i + 8 <= n { acc0 = acc0.addingProduct(load8(a + i), load8(b + i)); i += 8 }
    var s = (acc0 + acc1).sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

/// y[i] += alpha·x[i] for i in 0..<n.
@inline(__always)
public func axpy(_ y: UnsafeMutablePointer<Float>, _ alpha: Float, _ x: UnsafePointer<Float>, _ n: Int) {
    let av = Vec8(repeating: alpha)
    var i = 0
    while i + 8 <= n { store8(load8(y + i).addingProduct(av, load8(x + i)), y + i); i += 8 }
    while i < n { y[i] += alpha * x[i]; i += 1 }
}

/// x[i] = bfloat16(x[i]) (nearest even) for i in 0..<n: what a bf16 product does to its input.
public func roundToBFloat16(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { x[i] = BFloat16(x[i]).floatValue }
}

/// y[i] += x[i] for i in 0..<n.
@inline(__always)
public func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    while i + 8 <= n { store8(load8(y + i) + load8(x + i), y + i); i += 8 }
    while i < n { y[i] += x[i]; i += 1 }
}

/// Σ x[i]² in Double (norms of whole parameter tensors need the extra range and precision).
public func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
    var total = 0.0
    var i = 0
    while i < n {
        let end = min(n, i + 4096)
        var acc = Vec8()
        var j = i
        while j + 8 <= end { let v = load8(x + j); acc = acc.addingProduct(v, v); j += 8 }
        var s = Double(acc.sum())
        while j < end { s += Double(x[j]) * Double(x[j]); j += 1 }
        total += s
        i = end
    }
    return total
}

import CrystallineCompute
for (m,n,k) in [(768,384,128),(768,128,512),(2048,1152,384),(384,1152,2048)] {
  let a = [Float](repeating: 0.5, count: m*k), b = [Float](repeating: 0.25, count: k*n)
  var c = [Float](repeating: 0, count: m*n)
  for (ta,tb) in [(Transpose.none,Transpose.none),(.none,.transposed),(.transposed,.none)] {
    var best = 1e9
    for _ in 0..<20 {
      let t0 = ContinuousClock.now
      a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
        gemm(m: m, n: n, k: k, a: ap.baseAddress!, lda: ta == .none ? k : m, transA: ta, b: bp.baseAddress!, ldb: tb == .none ? n : k, transB: tb, c: cp.baseAddress!, ldc: n)
      }}}
      let d = ContinuousClock.now - t0
      best = min(best, Double(d.components.attoseconds)/1e18 + Double(d.components.seconds))
    }
    print(m,n,k,ta,tb, String(format: "%.1f GFLOP/s", 2.0*Double(m*n*k)/best/1e9))
  }
}

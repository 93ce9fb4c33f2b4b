// The 12-fold "clock" lattice of the original CLLM: indices laid out on concentric rings.
//
//   index  0…11    ring 0,   12 positions, angle (p − 3)·2π/12    (12 hours)
//   index 12…71    ring 1,   60 positions, angle (p − 15)·2π/60   (minutes)
//   index 72…131   ring 2,   60 positions, angle (p − 15)·2π/60   (seconds)
//   index 132…231  ring 3,  100 positions, angle (p − 25)·2π/100
//   index ≥ 232    ring 4, 1000 positions, angle p·2π/1000 (p taken mod 1000)
//
// p is the position within the ring. The offsets −3, −15, −25 put position 0 a quarter turn
// before angle 0, as "12 o'clock" on a clock face whose 3 o'clock is the +x axis; ring 4 has no
// offset in the original and keeps none. Ring r has radius r + 1. The 12-fold symmetry group of
// an index is index mod 12.

import Foundation

public struct ClockPoint: Equatable, Sendable {
    public var ring: Int
    public var position: Int
    public var positionsInRing: Int
    /// Radians, in (−π, 2π).
    public var angle: Double
    public var radius: Double { Double(ring + 1) }
    public var x: Double { radius * cos(angle) }
    public var y: Double { radius * sin(angle) }
}

public enum ClockLattice {
    static let rings: [(start: Int, count: Int, offset: Int)] = [(0, 12, 3), (12, 60, 15), (72, 60, 15), (132, 100, 25)]

    public static func point(_ index: Int) -> ClockPoint {
        precondition(index >= 0)
        for (r, ring) in rings.enumerated() where index < ring.start + ring.count {
            let p = index - ring.start
            return ClockPoint(ring: r, position: p, positionsInRing: ring.count,
                              angle: Double(p - ring.offset) * 2 * .pi / Double(ring.count))
        }
        let p = (index - 232) % 1000
        return ClockPoint(ring: 4, position: p, positionsInRing: 1000, angle: Double(p) * 2 * .pi / 1000)
    }

    public static func symmetryGroup(_ index: Int) -> Int { index % 12 }

    /// Shortest angular distance between two indices' clock angles, in [0, π].
    public static func angularDistance(_ a: Int, _ b: Int) -> Double {
        var d = abs(point(a).angle - point(b).angle).truncatingRemainder(dividingBy: 2 * .pi)
        if d > .pi { d = 2 * .pi - d }
        return d
    }
}

// The Ulam spiral: 1 at the origin, then counter-clockwise square rings:
// 2 at (1,0), 3 at (1,1), 4 at (0,1), 5 at (−1,1), 6 at (−1,0), 7 at (−1,−1), 8 at (0,−1),
// 9 at (1,−1), 10 at (2,−1), … Ring k ≥ 1 holds the numbers (2k−1)²+1 … (2k+1)².

public enum UlamSpiral {
    /// Coordinates of n ≥ 1.
    public static func coordinates(_ n: Int) -> (x: Int, y: Int) {
        precondition(n >= 1)
        if n == 1 { return (0, 0) }
        var k = Int((Double(n).squareRoot() - 1) / 2)
        while (2 * k + 1) * (2 * k + 1) < n { k += 1 }
        while k > 0 && (2 * k - 1) * (2 * k - 1) >= n { k -= 1 }
        let start = (2 * k - 1) * (2 * k - 1)  // last number of ring k−1
        let side = 2 * k
        let t = n - start  // 1 … 8k
        switch (t - 1) / side {
        case 0: return (k, -k + t)                    // right side, going up
        case 1: return (k - (t - side), k)            // top side, going left
        case 2: return (-k, k - (t - 2 * side))       // left side, going down
        default: return (-k + (t - 3 * side), -k)     // bottom side, going right
        }
    }

    /// The coordinates (the same range for x and y) of the square holding exactly 1…side²: for
    /// an odd side −h…h, for an even one the spiral has gone up its right side and along its top
    /// but not down the left, so −(h−1)…h.
    public static func square(side: Int) -> ClosedRange<Int> {
        precondition(side >= 1)
        return -((side - 1) / 2)...(side / 2)
    }

    /// The number at (x, y) (inverse of `coordinates`).
    public static func number(x: Int, y: Int) -> Int {
        let k = max(abs(x), abs(y))
        if k == 0 { return 1 }
        let start = (2 * k - 1) * (2 * k - 1), side = 2 * k
        if x == k && y > -k { return start + (y + k) }
        if y == k { return start + side + (k - x) }
        if x == -k { return start + 2 * side + (k - y) }
        return start + 3 * side + (x + k)
    }

    /// Ranks 0..<count ordered by spiral locality: rank r sits at n = r + 1; ranks are listed in
    /// row-major order of their spiral cells (top row first, left to right), so ranks that are
    /// neighbours on the spiral's rows become neighbours in the list.
    public static func localityOrder(_ count: Int) -> [Int] {
        (0..<count).sorted { a, b in
            let p = coordinates(a + 1), q = coordinates(b + 1)
            return p.y != q.y ? p.y > q.y : p.x < q.x
        }
    }
}

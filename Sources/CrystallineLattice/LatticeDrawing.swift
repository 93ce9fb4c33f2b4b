// Drawings of the lattice geometry: the Ulam spiral with its primes (SVG, PNG) and the clock
// lattice (SVG), for the command line and the dashboard.
import Foundation
import CrystallineFormats

/// SVG drawings of the lattice geometry.
public enum LatticeDrawing {
    public static func ulamSVG(size: Int) -> String {
        let cell = max(2, min(12, 800 / max(size, 1))), h = size / 2, w = size * cell
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(w)\" viewBox=\"0 0 \(w) \(w)\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        for y in stride(from: h, through: -h, by: -1) {
            for x in -h...h where Primes.isPrime(UlamSpiral.number(x: x, y: y)) {
                out += "<rect x=\"\((x + h) * cell)\" y=\"\((h - y) * cell)\" width=\"\(cell)\" height=\"\(cell)\" fill=\"#1f3a93\"/>\n"
            }
        }
        out += "<rect x=\"\(h * cell)\" y=\"\(h * cell)\" width=\"\(cell)\" height=\"\(cell)\" fill=\"#e74c3c\"/>\n</svg>\n"
        return out
    }

    /// The spiral as a PNG: primes dark blue, 1 red, one square of `cell` pixels per number.
    public static func ulamPNG(size: Int) -> Data {
        let cell = max(1, min(8, 800 / max(size, 1))), h = size / 2, w = size * cell
        var rgb = [UInt8](repeating: 255, count: w * w * 3)
        for y in stride(from: h, through: -h, by: -1) {
            for x in -h...h {
                let n = UlamSpiral.number(x: x, y: y)
                let color: [UInt8]? = n == 1 ? [231, 76, 60] : (Primes.isPrime(n) ? [31, 58, 147] : nil)
                guard let color else { continue }
                for dy in 0..<cell { for dx in 0..<cell {
                    let i = (((h - y) * cell + dy) * w + (x + h) * cell + dx) * 3
                    rgb[i] = color[0]; rgb[i + 1] = color[1]; rgb[i + 2] = color[2]
                } }
            }
        }
        return PNG.encode(width: w, height: w, rgb: rgb)
    }

    /// The first `count` indices on the clock lattice; `labels` (a token's text, say) become
    /// the hover titles instead of the bare index.
    public static func clockSVG(count: Int, labels: [String]? = nil) -> String {
        let size = 600.0, center = size / 2, scale = size / 12
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"600\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        for r in 1...5 { out += "<circle cx=\"\(center)\" cy=\"\(center)\" r=\"\(Double(r) * scale)\" fill=\"none\" stroke=\"#ccc\"/>\n" }
        for i in 0..<count {
            let p = ClockLattice.point(i)
            // SVG's y axis points down: 12 o'clock (angle −π/2) is drawn at the top.
            let x = center + p.x * scale, y = center + p.y * scale
            let fill = Primes.isPrime(i) ? "#e74c3c" : "#1f3a93"
            let title = labels.map { i < $0.count ? "\(xmlEscaped($0[i])) (id \(i), mod 12 = \(i % 12))" : "\(i)" } ?? "\(i) (mod 12 = \(i % 12))"
            out += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%@\"><title>%@</title></circle>\n", x, y, fill, title)
        }
        return out + "</svg>\n"
    }

    static func xmlEscaped(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

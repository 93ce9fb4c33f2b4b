// A small RGB canvas for the raster pictures the command line writes (run plots, lattice
// drawings): filled rectangles, anti-aliasing-free lines and discs, and labels in the built-in
// 5×7 font. Saved as a deflated PNG.
import Foundation

public struct RGB: Equatable, Sendable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
    /// "#1f3a93" → RGB (also used for the SVG of the same picture).
    public init(hex: String) {
        let v = UInt32(hex.drop { $0 == "#" }, radix: 16) ?? 0
        self.init(UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF))
    }
    public var hex: String { String(format: "#%02x%02x%02x", r, g, b) }
    public static let white = RGB(255, 255, 255), black = RGB(0, 0, 0), grey = RGB(200, 200, 200), darkGrey = RGB(90, 90, 90)
}

/// `s` as XML text or attribute content (for the SVG twins of raster pictures).
public func xmlEscaped(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}

public struct Raster: Sendable {
    public let width: Int, height: Int
    public private(set) var pixels: [UInt8]

    public init(width: Int, height: Int, background: RGB = .white) {
        precondition(width > 0 && height > 0)
        self.width = width; self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        fill(x: 0, y: 0, width: width, height: height, background)
    }

    public subscript(x: Int, y: Int) -> RGB {
        get { let i = (y * width + x) * 3; return RGB(pixels[i], pixels[i + 1], pixels[i + 2]) }
        set { set(x, y, newValue) }
    }

    @inline(__always) mutating func set(_ x: Int, _ y: Int, _ c: RGB) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = (y * width + x) * 3
        pixels[i] = c.r; pixels[i + 1] = c.g; pixels[i + 2] = c.b
    }

    /// A filled rectangle, clipped to the canvas.
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, _ c: RGB) {
        for yy in max(0, y)..<max(max(0, y), min(height, y + h)) {
            for xx in max(0, x)..<max(max(0, x), min(width, x + w)) { set(xx, yy, c) }
        }
    }

    /// A line `thickness` pixels wide between two points (Bresenham, square pen).
    public mutating func line(from a: (Double, Double), to b: (Double, Double), _ c: RGB, thickness: Int = 1) {
        var x0 = Int(a.0.rounded()), y0 = Int(a.1.rounded())
        let x1 = Int(b.0.rounded()), y1 = Int(b.1.rounded())
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        let lo = -(thickness - 1) / 2, hi = thickness / 2
        while true {
            for oy in lo...hi { for ox in lo...hi { set(x0 + ox, y0 + oy, c) } }
            if x0 == x1 && y0 == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x0 += sx }
            if e2 <= dx { err += dx; y0 += sy }
        }
    }

    /// A filled disc.
    public mutating func disc(center: (Double, Double), radius: Double, _ c: RGB) {
        let r = Int(radius.rounded(.up))
        let cx = Int(center.0.rounded()), cy = Int(center.1.rounded())
        for dy in -r...r { for dx in -r...r where Double(dx * dx + dy * dy) <= radius * radius { set(cx + dx, cy + dy, c) } }
    }

    /// A circle outline.
    public mutating func circle(center: (Double, Double), radius: Double, _ c: RGB) {
        let steps = max(16, Int(radius * 8))
        for s in 0..<steps {
            let t = Double(s) * 2 * .pi / Double(steps)
            set(Int((center.0 + radius * cos(t)).rounded()), Int((center.1 + radius * sin(t)).rounded()), c)
        }
    }

    /// Pixel width of `text` at `scale`.
    public static func textWidth(_ text: String, scale: Int = 1) -> Int { text.count * (BitmapFont.width + 1) * scale - scale }
    public static func textHeight(scale: Int = 1) -> Int { BitmapFont.height * scale }

    /// Draws `text` with its top-left corner at (x, y); `scale` magnifies each font cell.
    public mutating func text(_ text: String, x: Int, y: Int, _ c: RGB = .black, scale: Int = 1) {
        var left = x
        for ch in text {
            let g = BitmapFont.glyph(ch)
            for row in 0..<BitmapFont.height {
                for col in 0..<BitmapFont.width where g[row * BitmapFont.width + col] {
                    fill(x: left + col * scale, y: y + row * scale, width: scale, height: scale, c)
                }
            }
            left += (BitmapFont.width + 1) * scale
        }
    }

    public var png: Data { PNG.encode(width: width, height: height, rgb: pixels) }
}

// Drawings of the lattice geometry, for the command line and the dashboard: the Ulam spiral with
// its primes (SVG, PNG) and the clock lattice (SVG, PNG). Every drawing has a title, a margin, a
// legend, and a fixed size per cell or point, so pictures of different sizes compare.
import Foundation
import CrystallineFormats

public enum LatticeDrawing {
    static let margin = 16
    static let primeColor = RGB(hex: "#1f3a93"), oneColor = RGB(hex: "#e74c3c"), compositeColor = RGB(hex: "#e8e8e8")
    static let clockPrimeColor = RGB(hex: "#e74c3c"), clockOtherColor = RGB(hex: "#1f3a93")

    // MARK: Ulam spiral

    /// The layout shared by the SVG and the PNG of a spiral of side `size`.
    struct UlamLayout {
        let size: Int, cell: Int, range: ClosedRange<Int>
        let title: String, legend: [(RGB, String)]
        var gridSide: Int { size * cell }
        var titleHeight: Int { Raster.textHeight(scale: 2) + 10 }
        var legendHeight: Int { Raster.textHeight() + 12 }
        var width: Int { max(gridSide, Raster.textWidth(title, scale: 2), legendWidth(legend)) + 2 * margin }
        var height: Int { margin + titleHeight + gridSide + legendHeight + margin }
        var gridLeft: Int { (width - gridSide) / 2 }
        var gridTop: Int { margin + titleHeight }
        /// Top-left pixel of the cell holding (x, y).
        func origin(x: Int, y: Int) -> (Int, Int) { (gridLeft + (x - range.lowerBound) * cell, gridTop + (range.upperBound - y) * cell) }

        init(size: Int, cell: Int) {
            self.size = size; self.cell = cell; range = UlamSpiral.square(side: size)
            let primes = Primes.count(upTo: size * size)
            title = "Ulam spiral 1-\(size * size): \(primes) primes"
            legend = [(primeColor, "prime"), (oneColor, "1"), (compositeColor, "composite"), (.white, "\(cell) px per number")]
        }
    }

    /// Pixels per number when the caller gives none: the same at every size, so that spirals of
    /// different sizes compare (a larger spiral is a larger picture).
    public static let defaultCell = 4

    public static func ulamSVG(size: Int, cell: Int? = nil) -> String {
        let l = UlamLayout(size: size, cell: cell ?? defaultCell)
        var out = svgHeader(width: l.width, height: l.height, title: l.title)
        out += "<rect x=\"\(l.gridLeft)\" y=\"\(l.gridTop)\" width=\"\(l.gridSide)\" height=\"\(l.gridSide)\" fill=\"\(compositeColor.hex)\"/>\n"
        for y in l.range.reversed() {
            for x in l.range {
                let n = UlamSpiral.number(x: x, y: y)
                guard n == 1 || Primes.isPrime(n) else { continue }
                let (px, py) = l.origin(x: x, y: y)
                out += "<rect x=\"\(px)\" y=\"\(py)\" width=\"\(l.cell)\" height=\"\(l.cell)\" fill=\"\((n == 1 ? oneColor : primeColor).hex)\"><title>\(n)</title></rect>\n"
            }
        }
        out += svgLegend(l.legend, y: l.gridTop + l.gridSide + 8, left: margin)
        return out + "</svg>\n"
    }

    /// The spiral as a PNG: primes dark blue, 1 red, composites light grey, `cell` pixels a number.
    public static func ulamPNG(size: Int, cell: Int? = nil) -> Data {
        let l = UlamLayout(size: size, cell: cell ?? defaultCell)
        var r = Raster(width: l.width, height: l.height)
        r.text(l.title, x: margin, y: margin, scale: 2)
        r.fill(x: l.gridLeft, y: l.gridTop, width: l.gridSide, height: l.gridSide, compositeColor)
        for y in l.range {
            for x in l.range {
                let n = UlamSpiral.number(x: x, y: y)
                guard n == 1 || Primes.isPrime(n) else { continue }
                let (px, py) = l.origin(x: x, y: y)
                r.fill(x: px, y: py, width: l.cell, height: l.cell, n == 1 ? oneColor : primeColor)
            }
        }
        rasterLegend(&r, l.legend, y: l.gridTop + l.gridSide + 8, left: margin)
        return r.png
    }

    // MARK: Clock lattice

    /// Where index i is drawn: its clock point, except that the outer ring (1,000 positions, of
    /// which a drawing of a few hundred indices would fill only a quarter arc) is spread evenly
    /// over the circle by the number of its indices drawn. The lattice itself is unchanged.
    static func drawnPoint(_ i: Int, count: Int) -> (x: Double, y: Double, ring: Int) {
        let p = ClockLattice.point(i)
        guard p.ring == 4 else { return (p.x, p.y, p.ring) }
        let drawn = min(1000, count - 232)
        let angle = Double(p.position % drawn) * 2 * .pi / Double(drawn) - .pi / 2
        return (p.radius * cos(angle), p.radius * sin(angle), 4)
    }

    struct ClockLayout {
        let count: Int
        let side = 600
        let title: String
        let legend: [(RGB, String)]
        var titleHeight: Int { Raster.textHeight(scale: 2) + 10 }
        var legendHeight: Int { Raster.textHeight() + 12 }
        var width: Int { max(side, Raster.textWidth(title, scale: 2), legendWidth(legend)) + 2 * margin }
        var height: Int { margin + titleHeight + side + legendHeight + margin }
        var center: (Double, Double) { (Double(width) / 2, Double(margin + titleHeight + side / 2)) }
        var scale: Double { Double(side) / 2 / (Double(rings) + 0.5) }
        var rings: Int { count > 232 ? 5 : (count > 132 ? 4 : (count > 72 ? 3 : (count > 12 ? 2 : 1))) }

        init(count: Int) {
            self.count = count
            title = "Clock lattice: indices 0-\(count - 1)"
            var legend = [(clockPrimeColor, "prime index"), (clockOtherColor, "other index"), (RGB.grey, "rings 12, 60, 60, 100, 1000")]
            if count > 232 { legend.append((.white, "outer ring spread: \(min(1000, count - 232)) of 1000 positions drawn")) }
            self.legend = legend
        }
        func pixel(_ i: Int) -> (Double, Double) {
            let p = drawnPoint(i, count: count)
            // Screen y points down: 12 o'clock (angle -pi/2) is drawn at the top.
            return (center.0 + p.x * scale, center.1 + p.y * scale)
        }
    }

    /// The first `count` indices on the clock lattice; `labels` (a token's text, say) become
    /// the hover titles instead of the bare index.
    public static func clockSVG(count: Int, labels: [String]? = nil) -> String {
        let l = ClockLayout(count: max(1, count))
        var out = svgHeader(width: l.width, height: l.height, title: l.title)
        for r in 1...l.rings {
            out += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"none\" stroke=\"%@\"/>\n",
                          l.center.0, l.center.1, Double(r) * l.scale, RGB.grey.hex)
        }
        for i in 0..<count {
            let (x, y) = l.pixel(i)
            let fill = Primes.isPrime(i) ? clockPrimeColor : clockOtherColor
            let title = labels.map { i < $0.count ? "\(xmlEscaped($0[i])) (id \(i), mod 12 = \(i % 12))" : "\(i)" } ?? "\(i) (mod 12 = \(i % 12))"
            out += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%@\"><title>%@</title></circle>\n", x, y, fill.hex, title)
        }
        out += svgLegend(l.legend, y: l.height - margin - l.legendHeight + 8, left: margin)
        return out + "</svg>\n"
    }

    public static func clockPNG(count: Int) -> Data {
        let l = ClockLayout(count: max(1, count))
        var r = Raster(width: l.width, height: l.height)
        r.text(l.title, x: margin, y: margin, scale: 2)
        for ring in 1...l.rings { r.circle(center: l.center, radius: Double(ring) * l.scale, .grey) }
        for i in 0..<count { r.disc(center: l.pixel(i), radius: 3, Primes.isPrime(i) ? clockPrimeColor : clockOtherColor) }
        rasterLegend(&r, l.legend, y: l.height - margin - l.legendHeight + 8, left: margin)
        return r.png
    }

    // MARK: Shared pieces

    static func svgHeader(width: Int, height: Int, title: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" font-family=\"sans-serif\">\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
            + "<text x=\"\(margin)\" y=\"\(margin + 14)\" font-size=\"16\">\(xmlEscaped(title))</text>\n"
    }

    /// Pixels a legend row takes: each entry's square and label, 16 apart.
    static func legendWidth(_ items: [(RGB, String)]) -> Int { items.reduce(0) { $0 + Raster.textWidth("■ " + $1.1) + 16 } }

    /// A row of coloured squares with labels; white entries are plain notes.
    static func svgLegend(_ items: [(RGB, String)], y: Int, left: Int) -> String {
        var out = "", x = left
        for (color, label) in items {
            if color != .white {
                out += "<rect x=\"\(x)\" y=\"\(y)\" width=\"8\" height=\"8\" fill=\"\(color.hex)\" stroke=\"#999\"/>\n"
                x += 12
            }
            out += "<text x=\"\(x)\" y=\"\(y + 8)\" font-size=\"11\">\(xmlEscaped(label))</text>\n"
            x += Raster.textWidth(label) + 16
        }
        return out
    }

    static func rasterLegend(_ r: inout Raster, _ items: [(RGB, String)], y: Int, left: Int) {
        var x = left
        for (color, label) in items {
            if color != .white {
                r.fill(x: x, y: y - 1, width: 9, height: 9, .darkGrey)
                r.fill(x: x + 1, y: y, width: 7, height: 7, color)
                x += 13
            }
            r.text(label, x: x, y: y, .black)
            x += Raster.textWidth(label) + 16
        }
    }
}

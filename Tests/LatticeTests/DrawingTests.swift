import XCTest
import CrystallineFormats
@testable import CrystallineLattice

/// Reads back what `PNG.encode` writes: the chunks, the inflated and un-filtered pixels.
func decodePNG(_ data: Data) throws -> (width: Int, height: Int, rgb: [UInt8]) {
    let bytes = [UInt8](data)
    XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    var at = 8, width = 0, height = 0, idat: [UInt8] = []
    func u32(_ i: Int) -> Int { Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]) }
    while at < bytes.count {
        let length = u32(at), type = String(decoding: bytes[(at + 4)..<(at + 8)], as: UTF8.self)
        let body = Array(bytes[(at + 8)..<(at + 8 + length)])
        XCTAssertEqual(UInt32(u32(at + 8 + length)), PNG.crc32(Array(bytes[(at + 4)..<(at + 8 + length)])), "CRC of \(type)")
        if type == "IHDR" { width = u32(at + 8); height = u32(at + 12); XCTAssertEqual(Array(body[8...12]), [8, 2, 0, 0, 0]) }
        if type == "IDAT" { idat += body }
        at += 12 + length
    }
    let stride = width * 3
    let raw = try XCTUnwrap(PNG.inflate(idat, expectedSize: height * (stride + 1)))
    var rgb = [UInt8](), previous = [UInt8](repeating: 0, count: stride)
    for y in 0..<height {
        let filter = raw[y * (stride + 1)]
        var row = Array(raw[(y * (stride + 1) + 1)..<((y + 1) * (stride + 1))])
        for i in 0..<stride {
            let a = i >= 3 ? Int(row[i - 3]) : 0, b = Int(previous[i]), c = i >= 3 ? Int(previous[i - 3]) : 0
            let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
            let predictor = [0, a, b, (a + b) / 2, pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)][Int(filter)]
            row[i] = UInt8(truncatingIfNeeded: Int(row[i]) + predictor)
        }
        rgb += row
        previous = row
    }
    return (width, height, rgb)
}

final class DrawingTests: XCTestCase {
    /// Every side, even or odd, holds exactly 1…side² (even sides once drew side+1 rows and
    /// crashed the PNG writer).
    func testUlamSquareHoldsExactlyTheFirstNumbers() {
        for side in 1...40 {
            let range = UlamSpiral.square(side: side)
            XCTAssertEqual(range.count, side)
            let numbers = Set(range.flatMap { x in range.map { y in UlamSpiral.number(x: x, y: y) } })
            XCTAssertEqual(numbers, Set(1...(side * side)), "side \(side)")
        }
    }

    func testUlamPNGOfEverySizeDecodesWithAFixedCell() throws {
        for side in 1...24 {
            let image = try decodePNG(LatticeDrawing.ulamPNG(size: side, cell: 4))
            let layout = LatticeDrawing.UlamLayout(size: side, cell: 4)
            XCTAssertEqual(image.width, layout.width)
            XCTAssertEqual(image.height, layout.height)
            // The cell of each prime is blue, of 1 red, of a composite grey: four pixels a number.
            for x in layout.range { for y in layout.range {
                let n = UlamSpiral.number(x: x, y: y)
                let (px, py) = layout.origin(x: x, y: y)
                for (dx, dy) in [(0, 0), (3, 3)] {
                    let i = ((py + dy) * image.width + px + dx) * 3
                    let want = n == 1 ? LatticeDrawing.oneColor : (Primes.isPrime(n) ? LatticeDrawing.primeColor : LatticeDrawing.compositeColor)
                    XCTAssertEqual(RGB(image.rgb[i], image.rgb[i + 1], image.rgb[i + 2]), want, "side \(side), n \(n)")
                }
            } }
        }
        // Deflated, not stored: a 200-side spiral is far below its 480,000 bytes of raw pixels.
        XCTAssertLessThan(LatticeDrawing.ulamPNG(size: 200, cell: 2).count, 60_000)
        XCTAssertTrue(LatticeDrawing.ulamSVG(size: 6).contains("Ulam spiral 1-36: 11 primes"))
    }

    /// The outer ring (1,000 positions) is spread over the whole circle in a drawing of 500 indices.
    func testClockDrawingSpreadsTheOuterRing() throws {
        let angles = (232..<500).map { i -> Double in
            let p = LatticeDrawing.drawnPoint(i, count: 500)
            return atan2(p.y, p.x)
        }
        XCTAssertLessThan(angles.min()!, -3.0)
        XCTAssertGreaterThan(angles.max()!, 3.0)
        let png = try decodePNG(LatticeDrawing.clockPNG(count: 500))
        XCTAssertEqual(png.width, LatticeDrawing.ClockLayout(count: 500).width)
        XCTAssertTrue(LatticeDrawing.clockSVG(count: 500).contains("outer ring spread"))
        // The lattice itself is the original: index 232 at angle 0 of ring 4.
        XCTAssertEqual(ClockLattice.point(232).angle, 0)
    }
}

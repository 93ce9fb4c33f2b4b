import XCTest
@testable import CrystallineFormats

final class FormatTests: XCTestCase {
    let tensors = [NamedTensor(name: "a", shape: [2, 3], values: [1, 2, 3, 4, 5, 6]),
                   NamedTensor(name: "b", shape: [1], values: [-0.5])]

    func testSafetensorsRoundTrip() throws {
        let data = Safetensors.encode(tensors, metadata: ["k": "v"])
        let (back, meta) = try Safetensors.decode(data)
        XCTAssertEqual(back, tensors)
        XCTAssertEqual(meta.filter { !$0.key.hasPrefix("cllm.crc32.") }, ["k": "v"])
        XCTAssertEqual(meta["cllm.crc32.a"]?.count, 8, "every tensor's CRC-32 is recorded")
        let headerLength = data.withUnsafeBytes { $0.load(as: UInt64.self) }
        XCTAssertEqual(headerLength % 8, 0)
    }

    func testMalformedSafetensorsGiveClearErrors() throws {
        let good = Safetensors.encode(tensors)
        func reason(_ d: Data) -> String {
            do { _ = try Safetensors.decode(d, path: "x"); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertTrue(reason(Data([1, 2, 3])).contains("shorter than"))
        XCTAssertTrue(reason(good.prefix(good.count - 4)).contains("outside the data section"))
        var hugeHeader = good
        hugeHeader.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { Data($0) })
        XCTAssertTrue(reason(hugeHeader).contains("exceeds the file size"))
        func withHeader(_ json: String, dataBytes: Int) -> Data {
            var d = Data(withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { Data($0) })
            d.append(Data(json.utf8)); d.append(Data(count: dataBytes)); return d
        }
        XCTAssertTrue(reason(withHeader(#"{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, dataBytes: 8)).contains("unsupported dtype"))
        XCTAssertTrue(reason(withHeader(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, dataBytes: 8)).contains("needs 12"))
        XCTAssertTrue(reason(withHeader(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, dataBytes: 8)).contains("outside"))
        XCTAssertTrue(reason(withHeader(#"{"a":{"dtype":"F32","shape":[2]}}"#, dataBytes: 8)).contains("malformed entry"))
        XCTAssertTrue(reason(withHeader("not json", dataBytes: 0)).contains("not valid JSON"))
    }

    func testTokenShardRoundTripAndValidation() throws {
        let tokens: [Int32] = [0, 1, 65535, 42]
        let data = try TokenShard.encode(tokens)
        XCTAssertEqual(data.count, 1024 + 8)
        XCTAssertEqual(try TokenShard.decode(data), tokens)
        XCTAssertThrowsError(try TokenShard.encode([70000]))
        var wrongMagic = data; wrongMagic[0] = 0
        XCTAssertThrowsError(try TokenShard.decode(wrongMagic)) { XCTAssertTrue("\($0)".contains("magic")) }
        XCTAssertThrowsError(try TokenShard.decode(data.prefix(1030))) { XCTAssertTrue("\($0)".contains("header says")) }
    }

    func testAtomicWriteReplacesWholeFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atomic-\(UUID())")
        let url = dir.appendingPathComponent("f.bin")
        try AtomicFile.write(Data(repeating: 1, count: 100), to: url)
        try AtomicFile.write(Data([2, 3]), to: url)
        XCTAssertEqual(try Data(contentsOf: url), Data([2, 3]))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["f.bin"], "no temp files left behind")
        try? FileManager.default.removeItem(at: dir)
    }
}

final class PNGTests: XCTestCase {
    func testChecksumsAndStructure() {
        XCTAssertEqual(PNG.crc32(Array("IEND".utf8)), 0xAE42_6082)          // the CRC every PNG ends with
        XCTAssertEqual(PNG.inflate(PNG.deflate(Array("Wikipedia".utf8)), expectedSize: 9), Array("Wikipedia".utf8))
        let png = PNG.encode(width: 2, height: 1, rgb: [255, 0, 0, 0, 0, 255])
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertEqual(Array(png.suffix(12)), [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82])
        XCTAssertEqual(Array(png[12..<16]), Array("IHDR".utf8))
    }
}

// `cllm plot`: the loss, validation-loss and learning-rate curves of one or more runs, read from
// their metrics.jsonl, drawn as an SVG or a PNG (the dashboard draws the same data live).
// Train loss is drawn raw (faint) and smoothed (TensorBoard's debiased exponential moving
// average), validation loss as points joined by lines, the learning rate in a panel below.
import Foundation
import CrystallineFormats

/// The curves of one run.
public struct RunCurves: Sendable {
    public var name: String
    public var steps: [Int] = [], trainLoss: [Double] = [], lr: [Double] = []
    public var val: [(step: Int, loss: Double)] = []

    /// Reads DIR/metrics.jsonl (a line per logged step; validation lines carry val_loss).
    public static func load(_ directory: URL, name: String? = nil) throws -> RunCurves {
        let url = directory.appendingPathComponent("metrics.jsonl")
        let data: Data
        do { data = try readFile(url) } catch { throw TrainingError.invalidConfig("no metrics for run \(directory.path): \(error)") }
        var curves = RunCurves(name: name ?? directory.lastPathComponent)
        for (n, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let step = object["step"] as? Int else {
                throw TrainingError.invalidConfig("\(url.path) line \(n + 1) is not a metrics record")
            }
            if let loss = object["train_loss"] as? Double, loss.isFinite {
                curves.steps.append(step); curves.trainLoss.append(loss); curves.lr.append(object["lr"] as? Double ?? .nan)
            }
            if let v = object["val_loss"] as? Double, v.isFinite { curves.val.append((step, v)) }
        }
        guard !curves.steps.isEmpty else { throw TrainingError.invalidConfig("\(url.path) holds no steps yet") }
        return curves
    }

    /// TensorBoard's smoothing: an exponential moving average, debiased for its first points.
    public static func smoothed(_ x: [Double], weight: Double) -> [Double] {
        var average = 0.0, out: [Double] = []
        out.reserveCapacity(x.count)
        for (i, v) in x.enumerated() {
            average = weight * average + (1 - weight) * v
            out.append(average / (1 - pow(weight, Double(i + 1))))
        }
        return out
    }
}

/// What a plot is drawn on: a raster or an SVG document.
protocol PlotCanvas {
    mutating func polyline(_ points: [(Double, Double)], _ color: RGB, width: Int)
    mutating func dot(_ p: (Double, Double), _ color: RGB)
    mutating func text(_ s: String, x: Double, y: Double, _ color: RGB, scale: Int)
    mutating func rect(x: Double, y: Double, width: Double, height: Double, _ color: RGB)
}

extension Raster: PlotCanvas {
    mutating func polyline(_ points: [(Double, Double)], _ color: RGB, width: Int) {
        for (a, b) in zip(points, points.dropFirst()) { line(from: a, to: b, color, thickness: width) }
    }
    mutating func dot(_ p: (Double, Double), _ color: RGB) { disc(center: p, radius: 2.5, color) }
    mutating func text(_ s: String, x: Double, y: Double, _ color: RGB, scale: Int) { text(s, x: Int(x), y: Int(y), color, scale: scale) }
    mutating func rect(x: Double, y: Double, width: Double, height: Double, _ color: RGB) {
        fill(x: Int(x), y: Int(y), width: Int(width), height: Int(height), color)
    }
}

struct SVGCanvas: PlotCanvas {
    var body = ""
    mutating func polyline(_ points: [(Double, Double)], _ color: RGB, width: Int) {
        guard !points.isEmpty else { return }
        body += "<polyline fill=\"none\" stroke=\"\(color.hex)\" stroke-width=\"\(width)\" points=\""
            + points.map { String(format: "%.1f,%.1f", $0.0, $0.1) }.joined(separator: " ") + "\"/>\n"
    }
    mutating func dot(_ p: (Double, Double), _ color: RGB) {
        body += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%@\"/>\n", p.0, p.1, color.hex)
    }
    mutating func text(_ s: String, x: Double, y: Double, _ color: RGB, scale: Int) {
        body += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%d\" fill=\"%@\">%@</text>\n",
                       x, y + Double(7 * scale), 9 * scale + 2, color.hex, xmlEscaped(s))
    }
    mutating func rect(x: Double, y: Double, width: Double, height: Double, _ color: RGB) {
        body += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\"/>\n", x, y, width, height, color.hex)
    }
}

public enum RunPlot {
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"].map { RGB(hex: $0) }
    static let width = 900.0, left = 70.0, right = 20.0, top = 44.0
    static let lossHeight = 360.0, gap = 46.0, lrHeight = 140.0, legendLine = 16.0

    static func height(runs: Int) -> Double { top + lossHeight + gap + lrHeight + 40 + legendLine * Double(runs) + 10 }

    public static func svg(_ runs: [RunCurves]) -> String {
        var canvas = SVGCanvas()
        draw(runs, on: &canvas)
        let h = Int(height(runs: runs.count))
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(h)\" viewBox=\"0 0 \(Int(width)) \(h)\" font-family=\"monospace\">\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n" + canvas.body + "</svg>\n"
    }

    public static func png(_ runs: [RunCurves]) -> Data {
        var raster = Raster(width: Int(width), height: Int(height(runs: runs.count)))
        draw(runs, on: &raster)
        return raster.png
    }

    /// Up to about `count` round tick values covering lo…hi (1, 2 or 5 × 10ⁿ apart).
    static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let raw = (hi - lo) / Double(count), magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var out: [Double] = [], t = ceil(lo / step) * step
        while t <= hi + step * 1e-9 { out.append(t); t += step }
        return out
    }

    static func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) < 1e-2 || abs(v) >= 1e5 { return String(format: "%.0e", v) }
        return String(format: abs(v) < 1 ? "%.3g" : "%.4g", v)
    }

    static func draw<C: PlotCanvas>(_ runs: [RunCurves], on c: inout C) {
        let plotWidth = width - left - right
        let maxStep = Double(runs.flatMap(\.steps).max() ?? 1)
        let smoothing = (runs.map(\.steps.count).max() ?? 0) > 200 ? 0.9 : 0.6
        let smooth = runs.map { RunCurves.smoothed($0.trainLoss, weight: smoothing) }
        // The loss axis covers the smoothed and validation curves; raw spikes above are clipped.
        let shown = smooth.flatMap { $0 } + runs.flatMap { $0.val.map(\.loss) }
        var lo = shown.min() ?? 0, hi = shown.max() ?? 1
        if hi - lo < 1e-6 { hi += 0.5; lo -= 0.5 }
        let pad = (hi - lo) * 0.05
        lo -= pad; hi += pad
        let lrs = runs.flatMap(\.lr).filter(\.isFinite)
        let lrHi = max(lrs.max() ?? 1, 1e-12) * 1.05

        c.text("training curves: " + runs.map(\.name).joined(separator: ", "), x: left, y: 12, .black, scale: 2)
        func x(_ step: Double) -> Double { left + step / maxStep * plotWidth }
        func yLoss(_ v: Double) -> Double { top + (hi - min(max(v, lo), hi)) / (hi - lo) * lossHeight }
        let lrTop = top + lossHeight + gap
        func yLR(_ v: Double) -> Double { lrTop + (lrHi - v) / lrHi * lrHeight }

        // Frames, grid lines and tick labels.
        for (panelTop, panelHeight, ys, toY, name) in [(top, lossHeight, ticks(lo, hi), yLoss, "loss"), (lrTop, lrHeight, ticks(0, lrHi, count: 3), yLR, "lr")] {
            c.rect(x: left, y: panelTop, width: plotWidth, height: panelHeight, RGB(250, 250, 250))
            for t in ys {
                c.polyline([(left, toY(t)), (left + plotWidth, toY(t))], RGB(225, 225, 225), width: 1)
                c.text(label(t), x: left - 6 - Double(Raster.textWidth(label(t))), y: toY(t) - 3, .darkGrey, scale: 1)
            }
            c.text(name, x: 8, y: panelTop + panelHeight / 2 - 3, .black, scale: 1)
            for s in ticks(0, maxStep) {
                c.polyline([(x(s), panelTop + panelHeight), (x(s), panelTop + panelHeight + 4)], .darkGrey, width: 1)
                c.text(String(Int(s)), x: x(s) - Double(Raster.textWidth(String(Int(s)))) / 2, y: panelTop + panelHeight + 8, .darkGrey, scale: 1)
            }
        }
        c.text("step", x: left + plotWidth / 2 - 12, y: lrTop + lrHeight + 22, .black, scale: 1)

        for (i, run) in runs.enumerated() {
            let color = palette[i % palette.count]
            let faint = RGB(UInt8((Int(color.r) + 3 * 255) / 4), UInt8((Int(color.g) + 3 * 255) / 4), UInt8((Int(color.b) + 3 * 255) / 4))
            let xs = run.steps.map { x(Double($0)) }
            c.polyline(Array(zip(xs, run.trainLoss.map(yLoss))), faint, width: 1)
            c.polyline(Array(zip(xs, smooth[i].map(yLoss))), color, width: 2)
            let valPoints = run.val.map { (x(Double($0.step)), yLoss($0.loss)) }
            c.polyline(valPoints, .black, width: 1)
            for p in valPoints { c.dot(p, color) }
            c.polyline(Array(zip(xs, run.lr.map { $0.isFinite ? yLR($0) : yLR(0) })), color, width: 2)
            // Legend: one line per run with its last and best numbers.
            let ly = lrTop + lrHeight + 40 + legendLine * Double(i)
            c.rect(x: left, y: ly, width: 18, height: 7, color)
            let best = run.val.map(\.loss).min().map { String(format: ", best val %.4f", $0) } ?? ""
            let text = String(format: "%@: %d steps, train %.4f (smoothed)%@ - faint: raw train loss, dots: validation", run.name, run.steps.last ?? 0,
                              smooth[i].last ?? .nan, best)
            c.text(text, x: left + 26, y: ly, .black, scale: 1)
        }
    }
}

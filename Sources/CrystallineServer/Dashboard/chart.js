// A small line chart on a canvas: several series overlaid, linear or log y, exponential
// smoothing with the raw line kept faint, drag to zoom on x. No library needed.
"use strict";
class LineChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.series = [];           // [{name, color, points: [[x, y], ...]}]
    this.log = false;
    this.smoothing = 0.6;
    this.zoom = null;           // [x0, x1] or null
    this.xLabel = "step";
    this.drag = null;
    canvas.addEventListener("mousedown", e => { this.drag = { from: this.xAt(e), to: this.xAt(e) }; });
    canvas.addEventListener("mousemove", e => { if (this.drag) { this.drag.to = this.xAt(e); this.draw(); } });
    window.addEventListener("mouseup", () => {
      if (!this.drag) return;
      const [a, b] = [this.drag.from, this.drag.to].sort((p, q) => p - q);
      this.drag = null;
      if (b - a > 0) this.zoom = [a, b];
      this.draw();
    });
  }
  color(i) { return ["#3b5bdb", "#e8590c", "#2f9e44", "#ae3ec9", "#1098ad", "#c92a2a", "#f59f00"][i % 7]; }
  setSeries(series) { this.series = series; this.draw(); }
  resetZoom() { this.zoom = null; this.draw(); }
  frame() { return { left: 64, right: 16, top: 16, bottom: 40 }; }
  xAt(event) {
    const r = this.canvas.getBoundingClientRect(), f = this.frame();
    const px = (event.clientX - r.left) * this.canvas.width / r.width;
    const { x0, x1 } = this.bounds;
    return x0 + (px - f.left) / (this.canvas.width - f.left - f.right) * (x1 - x0);
  }
  smoothed(points) {
    if (this.smoothing <= 0) return points;
    const out = []; let s = null;
    for (const [x, y] of points) { s = s === null ? y : this.smoothing * s + (1 - this.smoothing) * y; out.push([x, s]); }
    return out;
  }
  draw() {
    const c = this.canvas, g = c.getContext("2d"), f = this.frame();
    const css = getComputedStyle(document.documentElement);
    const text = css.getPropertyValue("--muted").trim() || "#888", line = css.getPropertyValue("--line").trim() || "#ddd";
    g.clearRect(0, 0, c.width, c.height);
    const all = this.series.flatMap(s => s.points).filter(([, y]) => Number.isFinite(y) && (!this.log || y > 0));
    if (all.length === 0) {
      g.fillStyle = text; g.font = "14px system-ui"; g.fillText("No data yet: start a run, or tick one in the list.", f.left, c.height / 2);
      this.bounds = { x0: 0, x1: 1 }; return;
    }
    let x0 = Math.min(...all.map(p => p[0])), x1 = Math.max(...all.map(p => p[0]));
    if (this.zoom) [x0, x1] = this.zoom;
    if (x1 === x0) x1 = x0 + 1;
    const visible = all.filter(([x]) => x >= x0 && x <= x1);
    const ty = y => this.log ? Math.log10(y) : y;
    let y0 = Math.min(...visible.map(p => ty(p[1]))), y1 = Math.max(...visible.map(p => ty(p[1])));
    if (y1 === y0) { y0 -= 1; y1 += 1; }
    const pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
    this.bounds = { x0, x1 };
    const W = c.width - f.left - f.right, H = c.height - f.top - f.bottom;
    const px = x => f.left + (x - x0) / (x1 - x0) * W, py = y => f.top + (1 - (ty(y) - y0) / (y1 - y0)) * H;
    g.strokeStyle = line; g.fillStyle = text; g.font = "12px system-ui"; g.lineWidth = 1;
    for (let i = 0; i <= 5; i++) {
      const v = y0 + (y1 - y0) * i / 5, y = f.top + (1 - i / 5) * H;
      g.beginPath(); g.moveTo(f.left, y); g.lineTo(c.width - f.right, y); g.stroke();
      const label = this.log ? Math.pow(10, v) : v;
      g.fillText(Math.abs(label) >= 1000 ? label.toFixed(0) : label.toPrecision(3), 4, y + 4);
    }
    for (let i = 0; i <= 6; i++) {
      const v = x0 + (x1 - x0) * i / 6;
      g.fillText(x1 - x0 >= 12 ? Math.round(v).toString() : v.toPrecision(3), f.left + W * i / 6 - 12, c.height - f.bottom + 16);
    }
    g.fillText(this.xLabel, c.width / 2, c.height - 6);
    g.save(); g.beginPath(); g.rect(f.left, f.top, W, H); g.clip();
    this.series.forEach((s, i) => {
      const pts = s.points.filter(([, y]) => Number.isFinite(y) && (!this.log || y > 0));
      const stroke = (points, alpha, width) => {
        g.globalAlpha = alpha; g.strokeStyle = s.color || this.color(i); g.lineWidth = width; g.beginPath();
        points.forEach(([x, y], k) => k ? g.lineTo(px(x), py(y)) : g.moveTo(px(x), py(y)));
        g.stroke();
      };
      if (this.smoothing > 0 && pts.length > 2) stroke(pts, 0.25, 1);
      stroke(this.smoothed(pts), 1, 2);
    });
    g.restore(); g.globalAlpha = 1;
    this.series.forEach((s, i) => {
      g.fillStyle = s.color || this.color(i); g.fillRect(c.width - f.right - 160, f.top + 6 + 16 * i, 10, 10);
      g.fillStyle = text; g.fillText(s.name, c.width - f.right - 144, f.top + 15 + 16 * i);
    });
    if (this.drag) {
      g.fillStyle = "rgba(100,120,255,0.15)";
      const a = px(Math.min(this.drag.from, this.drag.to)), b = px(Math.max(this.drag.from, this.drag.to));
      g.fillRect(a, f.top, b - a, H);
    }
  }
}

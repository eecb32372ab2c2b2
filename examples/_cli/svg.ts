/**
 * Dependency-free SVG line plots (loss curves, metric-vs-m curves).
 * @module
 */

/** One line of a plot. */
export interface Series {
  /** Legend label. */
  name: string;
  /** Points (x ascending). */
  points: readonly (readonly [number, number])[];
  /** Line colour (default: the palette by position), so one name keeps one colour across plots. */
  color?: string;
  /** Draw dashed (e.g. a baseline). */
  dashed?: boolean;
}

/** Plot options. */
export interface PlotOptions {
  /** Title at the top. */
  title: string;
  /** X axis label. */
  xLabel: string;
  /** Y axis label. */
  yLabel: string;
  /** Logarithmic x axis (base 2 ticks). */
  logX?: boolean;
  /** Fixed y range. */
  yRange?: [number, number];
  /** Size in pixels. */
  width?: number;
  /** Size in pixels. */
  height?: number;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? step0;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    ticks.push(+v.toPrecision(12));
  }
  return ticks;
}

/**
 * Renders series as a standalone SVG document.
 * @param series Lines to draw.
 * @param options Titles, axes and size.
 */
export function linePlot(series: readonly Series[], options: PlotOptions): string {
  const W = options.width ?? 640;
  const H = options.height ?? 400;
  const m = { l: 64, r: 150, t: 36, b: 48 };
  const all = series.flatMap((s) => s.points);
  const fx = (x: number): number => (options.logX ? Math.log2(Math.max(x, 1e-12)) : x);
  const xs = all.map((p) => fx(p[0]));
  const ys = all.map((p) => p[1]).filter(Number.isFinite);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = options.yRange ?? [Math.min(...ys), Math.max(...ys)];
  if (!Number.isFinite(x0)) [x0, x1] = [0, 1];
  if (!Number.isFinite(y0)) [y0, y1] = [0, 1];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) y1 = y0 + 1;
  const px = (x: number): number => m.l + ((fx(x) - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (y: number): number => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.r / 2}" y="20" text-anchor="middle" font-size="14">${
      esc(options.title)
    }</text>`,
  ];
  for (const t of niceTicks(y0, y1)) {
    parts.push(
      `<line x1="${m.l}" x2="${W - m.r}" y1="${py(t)}" y2="${py(t)}" stroke="#ddd"/>`,
      `<text x="${m.l - 6}" y="${py(t) + 4}" text-anchor="end">${t}</text>`,
    );
  }
  const xTicks = options.logX
    ? Array.from({ length: Math.floor(x1) - Math.ceil(x0) + 1 }, (_, i) => 2 ** (Math.ceil(x0) + i))
    : niceTicks(x0, x1);
  for (const t of xTicks) {
    parts.push(
      `<line x1="${px(t)}" x2="${px(t)}" y1="${m.t}" y2="${H - m.b}" stroke="#eee"/>`,
      `<text x="${px(t)}" y="${H - m.b + 16}" text-anchor="middle">${t}</text>`,
    );
  }
  parts.push(
    `<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${
      H - m.t - m.b
    }" fill="none" stroke="#333"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 10}" text-anchor="middle">${
      esc(options.xLabel)
    }</text>`,
    `<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${
      esc(options.yLabel)
    }</text>`,
  );
  series.forEach((s, i) => {
    const color = s.color ?? COLORS[i % COLORS.length];
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    if (pts.length > 0) {
      const d = pts.map((p, k) => `${k ? "L" : "M"}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`)
        .join("");
      const dash = s.dashed ? ` stroke-dasharray="6 4"` : "";
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
      if (pts.length <= 32) {
        for (const p of pts) {
          parts.push(`<circle cx="${px(p[0])}" cy="${py(p[1])}" r="3" fill="${color}"/>`);
        }
      }
    }
    const ly = m.t + 14 + i * 18;
    parts.push(
      `<line x1="${W - m.r + 12}" x2="${W - m.r + 32}" y1="${ly - 4}" y2="${
        ly - 4
      }" stroke="${color}" stroke-width="2"/>`,
      `<text x="${W - m.r + 38}" y="${ly}">${esc(s.name)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}

// The report's tables: every row with its regime, and the least-squares fits per edited layer.
import type { FitRow, ResultRow } from "./sweep.ts";

/**
 * The Markdown table of all rows.
 * @param rows Result rows.
 */
export function markdownTable(rows: readonly ResultRow[]): string {
  const head =
    "| m | editor | ES | GS | LS | LS before | efficacy | paraphrase | neighbourhood | score | rows / d_in | residual | edit s | peak RSS MB |\n" +
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|";
  const lines = rows.map((r) => `| ${r.m} | ${r.editor} | ${cells(r).join(" | ")} |`);
  return [head, ...lines].join("\n");
}

// The cells after m and editor, shared by the Markdown and HTML tables (older rows lack the
// regime fields: shown as –).
export function cells(r: ResultRow): string[] {
  const edited = r.editor !== "unedited";
  return [
    ...[r.es, r.gs, r.ls, r.ls_before ?? NaN, r.efficacy, r.paraphrase, r.neighborhood, r.score]
      .map(pct),
    edited && r.rows_per_d_in !== undefined ? r.rows_per_d_in.toFixed(2) : "–",
    r.residual ? r.residual.map((x) => x.toFixed(3)).join(", ") : "–",
    edited ? r.seconds.toFixed(1) : "–",
    edited ? String(r.peak_rss_mb) : "–",
  ];
}

/**
 * Where one ΔW per layer stops being able to meet every row: the first m whose rows per edited
 * layer exceed the key width, per least-squares editor, and where its residual passes 0.1.
 * @param rows Result rows.
 * @param dIn Key width of the edited layers.
 * @returns One sentence per editor that solves least squares.
 */
export function regimeLines(rows: readonly ResultRow[], dIn: number): string[] {
  const out: string[] = [];
  for (const e of [...new Set(rows.map((r) => r.editor))]) {
    const mine = rows.filter((r) => r.editor === e && r.rows_per_d_in !== undefined)
      .sort((a, b) => a.m - b.m);
    if (e === "unedited" || mine.length === 0) continue;
    const over = mine.find((r) => r.rows > dIn);
    const fitted = mine.filter((r) => r.residual);
    const loose = fitted.find((r) => Math.max(...r.residual!) > 0.1);
    out.push(
      `${e}: ${+(mine[0].rows / mine[0].m).toFixed(2)} row(s) per fact in each edited layer, so ${
        over
          ? `the rows exceed d_in = ${dIn} from m = ${over.m} on (${
            over.rows_per_d_in.toFixed(2)
          }×)`
          : `the rows stay within d_in = ${dIn} up to m = ${mine.at(-1)!.m}`
      }${
        fitted.length === 0
          ? "."
          : loose
          ? `; its least-squares residual passes 0.1 at m = ${loose.m} (${
            loose.residual!.map((x) => x.toFixed(3)).join(", ")
          }).`
          : `; its least-squares residual stays ≤ 0.1 up to m = ${fitted.at(-1)!.m}.`
      }`,
    );
  }
  return out;
}

/**
 * The Markdown section on the least-squares fits.
 * @param fits Fit rows.
 * @param dIn Key width of the edited layers.
 * @param layers The report's edited blocks (for rows that do not name theirs).
 */
export function fitLines(
  fits: readonly FitRow[],
  dIn: number,
  layers: readonly number[],
): string[] {
  if (fits.length === 0) return [];
  return [
    "## How much of the requested change one ΔW delivers",
    "",
    `Relative residual ‖KΔW − D‖ / ‖D‖ of each edited layer's least-squares problem (0 = all of the requested value changes are met: the hyper-network's for MALMEN, each layer's share of the target residuals for MEMIT; the key width is d_in = ${dIn}, so more rows than that over-determine it).`,
    "",
    "| editor | m | rows per layer | rows / d_in | residual per layer |",
    "|---|---:|---:|---:|---|",
    ...fitCells(fits, dIn, layers).map((c) => `| ${c.join(" | ")} |`),
    "",
  ];
}

/**
 * One table row per fit: editor, m, rows per layer, rows / d_in, residual per block.
 * @param fits Fit rows.
 * @param dIn Key width.
 * @param layers The report's edited blocks (for rows that do not name theirs).
 */
export function fitCells(
  fits: readonly FitRow[],
  dIn: number,
  layers: readonly number[],
): string[][] {
  return fits.map((f) => [
    f.editor,
    String(f.m),
    String(f.rows),
    (f.rows / dIn).toFixed(2),
    f.residual.map((r, i) => `${r.toFixed(3)} (${blockName(f, layers, i)})`).join(", "),
  ]);
}

/**
 * The name of the i-th edited block of a fit.
 * @param layers The report's edited blocks (for rows that do not name theirs).
 */
export function blockName(f: FitRow, layers: readonly number[], i: number): string {
  return `block ${f.layers?.[i] ?? layers[i] ?? i}`;
}

/** A fraction as a percentage with one decimal, or – when not a number. */
export function pct(x: number): string {
  return Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : "–";
}

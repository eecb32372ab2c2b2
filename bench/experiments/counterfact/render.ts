// The report: a Markdown table and a self-contained HTML page (inline SVG plots of every metric,
// time and memory against m), with the setup, the validation-split selections and an explicit
// check of the targets.
import { linePlot, type Series } from "../../../examples/_cli/svg.ts";
import type { MemitSettings } from "../../../malmen/editors/memit.ts";
import type { MemitCandidate } from "../../../malmen/workflows/memit_run.ts";
import type { EditorProvenance } from "../../../malmen/workflows/runs.ts";
import type { FitRow, ResultRow } from "./sweep.ts";
import { blockName, cells, fitCells, fitLines, markdownTable, pct, regimeLines } from "./tables.ts";

/** Everything the report shows besides the rows. */
export interface ReportSetup {
  /** `full` or `quick`. */
  plan: string;
  /** ISO date of the run. */
  date: string;
  /** Machine and adapter, in words. */
  machine: string;
  /** Base model shape. */
  model: { dModel: number; nLayer: number; nHead: number; nCtx: number; vocabSize: number };
  /** Records per split. */
  records: { train: number; val: number; edit: number };
  /** Base-model teacher-forced accuracy on the true facts, before any edit. */
  base: { prompt: number; paraphrase: number; locality: number; cases: number };
  /** LM training. */
  lmTraining: { seconds: number; steps: number };
  /** Edited blocks and the key width of their `mlp.c_proj`. */
  edited: { layers: number[]; dIn: number };
  /** Hyper-network editors: chosen checkpoints. */
  editors: EditorProvenance[];
  /** FT learning-rate grid on validation and the chosen value. */
  ft: { grid: { lr: number; es: number; gs: number; ls: number }[]; lr: number };
  /** MEMIT: the settings used, the candidates tried on val, the texts of its statistics. */
  memit?: { settings: MemitSettings; grid: MemitCandidate[]; texts: number } | null;
  /** Least-squares fit of the MALMEN edits per m. */
  fits: FitRow[];
  /** Wall time of this invocation and of the whole experiment (training included), seconds. */
  seconds: { sweep: number; total: number };
}

/** Target checks. */
export interface TargetCheck {
  /** What is checked. */
  target: string;
  /** Whether it holds. */
  met: boolean;
  /** The numbers behind it. */
  detail: string;
}

/** One colour per editor in every plot. */
const EDITOR_COLORS: Record<string, string> = {
  unedited: "#888888",
  malmen: "#d62728",
  mend: "#1f77b4",
  ft: "#2ca02c",
  memit: "#9467bd",
};

const METRICS = [
  ["es", "ES (edit success)"],
  ["gs", "GS (generalisation)"],
  ["ls", "LS (locality)"],
  ["efficacy", "CounterFact efficacy"],
  ["paraphrase", "CounterFact paraphrase"],
  ["neighborhood", "CounterFact neighbourhood"],
  ["score", "Score (harmonic mean)"],
] as const;

/**
 * Checks the issue's targets: MALMEN's score ≥ MEND-sum's and ≥ FT's at every m ≥ 256, and
 * MALMEN's ES ≥ 90% at m = 1024.
 * @param rows Result rows.
 * @returns One check per target and m.
 */
export function checkTargets(rows: readonly ResultRow[]): TargetCheck[] {
  const at = (editor: string, m: number): ResultRow | undefined =>
    rows.find((r) => r.editor === editor && r.m === m);
  const checks: TargetCheck[] = [];
  const ms = [...new Set(rows.map((r) => r.m))].filter((m) => m >= 256).sort((a, b) => a - b);
  for (const m of ms) {
    const ml = at("malmen", m);
    if (ml === undefined) continue;
    for (const peer of ["mend", "ft"]) {
      const p = at(peer, m);
      if (p === undefined) continue;
      checks.push({
        target: `score: MALMEN ≥ ${peer === "mend" ? "MEND-sum" : "FT"} at m = ${m}`,
        met: ml.score >= p.score,
        detail: `${pct(ml.score)} vs ${pct(p.score)}`,
      });
    }
  }
  const m1024 = at("malmen", 1024);
  if (m1024 !== undefined) {
    checks.push({
      target: "ES ≥ 90% at m = 1024 (MALMEN)",
      met: m1024.es >= 0.9,
      detail: pct(m1024.es),
    });
  }
  return checks;
}

/**
 * Plain-language reading of the checks: for every missed target, which parts of the score differ
 * and how over-determined the least-squares problem was; plus the caveats a reader needs.
 * @param rows Result rows.
 * @returns One paragraph per finding.
 */
export function explain(rows: readonly ResultRow[], setup: ReportSetup): string[] {
  const at = (editor: string, m: number): ResultRow | undefined =>
    rows.find((r) => r.editor === editor && r.m === m);
  const fitAt = (m: number) => setup.fits.find((f) => f.m === m && f.editor === "malmen");
  const out: string[] = [];
  for (const c of checkTargets(rows)) {
    if (c.met) continue;
    const m = Number(/m = (\d+)/.exec(c.target)?.[1]);
    const ml = at("malmen", m)!;
    const fit = fitAt(m);
    const fitText = fit
      ? ` Each edited layer's least-squares problem had ${fit.rows} rows for a key width of d_in = ${setup.edited.dIn} (${
        (fit.rows / setup.edited.dIn).toFixed(1)
      }×), and one ΔW left a relative residual of ${
        fit.residual.map((r) => r.toFixed(2)).join(" / ")
      }: that share of the hyper-network's requested value change is not delivered.`
      : "";
    if (c.target.startsWith("ES")) {
      out.push(`ES at m = ${m} is ${pct(ml.es)} (GS ${pct(ml.gs)}, LS ${pct(ml.ls)}).${fitText}`);
      continue;
    }
    const peerName = c.target.includes("MEND") ? "mend" : "ft";
    const p = at(peerName, m)!;
    const parts = (["efficacy", "paraphrase", "neighborhood"] as const).map((k) =>
      `${k} ${pct(ml[k])} vs ${pct(p[k])}`
    );
    out.push(
      `At m = ${m} MALMEN's score ${pct(ml.score)} trails ${
        peerName === "mend" ? "MEND-sum" : "FT"
      }'s ${pct(p.score)}: ${parts.join(", ")}.${fitText}`,
    );
  }
  // An edit that scrambles the model makes CounterFact's pairwise comparisons coin flips, which
  // the harmonic mean does not punish: say so wherever locality collapsed.
  const editors = [...new Set(rows.map((r) => r.editor))].filter((e) => e !== "unedited");
  for (const e of editors) {
    const hit = rows.filter((r) => {
      const base = at("unedited", r.m);
      return r.editor === e && base !== undefined && r.ls < 0.5 * base.ls;
    });
    if (hit.length === 0) continue;
    const list = hit.map((r) =>
      `m = ${r.m}: LS ${pct(r.ls)} vs ${pct(at("unedited", r.m)!.ls)} unedited, ES ${
        pct(r.es)
      }, efficacy / paraphrase / neighbourhood ${pct(r.efficacy)} / ${pct(r.paraphrase)} / ${
        pct(r.neighborhood)
      }`
    );
    out.push(
      `${e} collapses unrelated facts (${
        list.join("; ")
      }). CounterFact's pairwise comparisons on a damaged model drift toward coin flips, which the harmonic mean does not punish, so a score there is not evidence of a good edit.`,
    );
  }
  out.push(
    `LS and the neighbourhood score are anchored to what the base model knows: before any edit it answers ${
      pct(setup.base.locality)
    } of the locality prompts correctly (the "unedited" rows), so an LS near that value means the edit left unrelated facts alone.`,
  );
  return out;
}

/**
 * The Markdown report (setup, targets, table).
 * @param rows Result rows.
 */
export function markdownReport(rows: readonly ResultRow[], setup: ReportSetup): string {
  const checks = checkTargets(rows);
  return [
    `# CounterFact: MALMEN vs MEND-sum, fine-tuning and MEMIT (${setup.plan} run, ${setup.date})`,
    "",
    ...setupLines(setup).map((l) => `- ${l}`),
    "",
    "## Targets",
    "",
    ...(checks.length === 0
      ? ["- none applies (the targets concern m ≥ 256)"]
      : checks.map((c) => `- ${c.met ? "met" : "**missed**"}: ${c.target} (${c.detail})`)),
    "",
    ...explain(rows, setup).flatMap((l) => [l, ""]),
    "## Regime",
    "",
    ...regimeLines(rows, setup.edited.dIn).map((l) => `- ${l}`),
    "",
    ...fitLines(setup.fits, setup.edited.dIn, setup.edited.layers),
    "## Results (edit split; metrics are fractions shown as %)",
    "",
    markdownTable(rows),
    "",
  ].join("\n");
}

/**
 * The self-contained HTML report.
 * @param rows Result rows.
 * @param notes Extra HTML paragraphs (the analysis of the targets).
 */
export function htmlReport(rows: readonly ResultRow[], setup: ReportSetup, notes = ""): string {
  const editors = [...new Set(rows.map((r) => r.editor))];
  const series = (key: keyof ResultRow, include: (e: string) => boolean) =>
    editors.filter(include).map((e) => ({
      name: e,
      color: EDITOR_COLORS[e],
      dashed: e === "unedited",
      points: rows.filter((r) => r.editor === e).map((r) => [r.m, Number(r[key])] as const),
    }));
  const plots = METRICS.map(([key, title]) =>
    linePlot(series(key, () => true).map(percentSeries), {
      title: `${title} vs m`,
      xLabel: "facts edited at once (m)",
      yLabel: "%",
      logX: true,
      yRange: [0, 100],
      width: 520,
      height: 340,
    })
  );
  plots.push(
    linePlot(series("seconds", (e) => e !== "unedited"), {
      title: "Edit time vs m",
      xLabel: "m",
      yLabel: "seconds",
      logX: true,
      width: 520,
      height: 340,
    }),
    linePlot(series("peak_rss_mb", (e) => e !== "unedited"), {
      title: "Peak RSS while editing vs m",
      xLabel: "m",
      yLabel: "MiB",
      logX: true,
      width: 520,
      height: 340,
    }),
  );
  if (setup.fits.length > 0) {
    const editors = [...new Set(setup.fits.map((f) => f.editor))];
    plots.push(linePlot(
      editors.flatMap((e) => {
        const mine = setup.fits.filter((f) => f.editor === e);
        return mine[0].residual.map((_, i) => ({
          name: `${e} ${blockName(mine[0], setup.edited.layers, i)}`,
          points: mine.map((f) => [f.m, f.residual[i]] as const),
        }));
      }),
      {
        title: "Least-squares residual ‖KΔW − D‖/‖D‖ vs m",
        xLabel: "m",
        yLabel: "relative residual",
        logX: true,
        yRange: [0, 1],
        width: 520,
        height: 340,
      },
    ));
  }
  const checks = checkTargets(rows);
  const table = `<table><tr>${
    [
      "m",
      "editor",
      "ES",
      "GS",
      "LS",
      "LS before",
      "efficacy",
      "paraphrase",
      "neighbourhood",
      "score",
      "rows / d_in",
      "residual",
      "edit s",
      "peak RSS MB",
    ]
      .map((h) => `<th>${h}</th>`).join("")
  }</tr>${
    rows.map((r) =>
      `<tr class="${r.editor}"><td>${r.m}</td><td>${r.editor}</td>${
        cells(r).map((c) => `<td>${c}</td>`).join("")
      }</tr>`
    ).join("")
  }</table>`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>CounterFact knowledge-editing report</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:nth-child(2){text-align:left}tr.unedited{color:#777}.met{color:#1a7f37}.missed{color:#c62828;font-weight:bold}
.plots{display:flex;flex-wrap:wrap;gap:8px}code{background:#f4f4f4;padding:0 3px}
</style></head><body>
<h1>CounterFact: MALMEN vs MEND-sum, fine-tuning and MEMIT</h1>
<p>${setup.plan} run of ${esc(setup.date)} on ${esc(setup.machine)}. Reproduce with
<code>deno task report${setup.plan === "quick" ? " --quick" : ""}</code>.</p>
<h2>Setup</h2><ul>${setupLines(setup).map((l) => `<li>${esc(l)}</li>`).join("")}</ul>
<h2>Targets</h2><ul>${
    checks.map((c) =>
      `<li class="${c.met ? "met" : "missed"}">${c.met ? "met" : "missed"}: ${esc(c.target)} (${
        esc(c.detail)
      })</li>`
    ).join("")
  }</ul>
${explain(rows, setup).map((l) => `<p>${esc(l)}</p>`).join("\n")}
${notes}${
    setup.fits.length > 0
      ? `<h2>How much of the requested change one ΔW delivers</h2><p>Relative residual of each edited layer's least-squares problem; the key width is d_in = ${setup.edited.dIn}.</p><ul>${
        regimeLines(rows, setup.edited.dIn).map((l) => `<li>${esc(l)}</li>`).join("")
      }</ul><table><tr><th>editor</th><th>m</th><th>rows per layer</th><th>rows / d_in</th><th>residual per layer</th></tr>${
        fitCells(setup.fits, setup.edited.dIn, setup.edited.layers).map((c) =>
          `<tr>${c.map((x) => `<td>${x}</td>`).join("")}</tr>`
        ).join("")
      }</table>`
      : ""
  }
<h2>Plots</h2><div class="plots">${plots.join("\n")}</div>
<h2>All rows</h2>${table}
</body></html>
`;
}

function percentSeries(s: Series): Series {
  return { ...s, points: s.points.map(([x, y]) => [x, 100 * y] as const) };
}

function setupLines(s: ReportSetup): string[] {
  const m = s.model;
  const lines = [
    `Base model: GPT-2 architecture, d=${m.dModel}, ${m.nLayer} blocks, ${m.nHead} heads, context ${m.nCtx}, vocabulary ${m.vocabSize} (compact GPT-2 BPE), trained from scratch on the true facts of all ${s.base.cases} CounterFact cases (prompt, paraphrase and locality prompt with their true answers) for ${
      fmtMin(s.lmTraining.seconds)
    } (${s.lmTraining.steps} steps).`,
    `Base model before any edit (teacher-forced top-1 accuracy of the true answer): prompts ${
      pct(s.base.prompt)
    }, paraphrases ${pct(s.base.paraphrase)}, locality prompts ${pct(s.base.locality)}.`,
    `Splits: meta-training on ${s.records.train} train records, every selection on ${s.records.val} val records, evaluation only on the ${s.records.edit} edit records (the first m of one fixed shuffle).`,
    `Edited: mlp.c_proj of blocks ${
      s.edited.layers.join(", ")
    } (key width d_in = ${s.edited.dIn}).`,
  ];
  for (const e of s.editors) {
    lines.push(
      `${e.editor}: meta-trained ${e.trainedSteps} steps in ${
        fmtMin(e.seconds)
      }; checkpoint of step ${e.step} chosen on val${
        e.val ? ` (ES ${pct(e.val.es)}, GS ${pct(e.val.gs)}, LS ${pct(e.val.ls)})` : ""
      }.`,
    );
  }
  if (s.ft.grid.length > 0) {
    lines.push(
      `ft: learning rate ${s.ft.lr} chosen on val from ${
        s.ft.grid.map((g) => `${g.lr} (ES ${pct(g.es)}, GS ${pct(g.gs)}, LS ${pct(g.ls)})`).join(
          ", ",
        )
      }.`,
    );
  }
  if (s.memit) {
    const m = s.memit;
    const grid = m.grid.map((g) =>
      `${Object.keys(g.settings).length === 0 ? "the defaults" : JSON.stringify(g.settings)} (ES ${
        pct(g.val.es)
      }, GS ${pct(g.val.gs)}, LS ${pct(g.val.ls)})`
    );
    lines.push(
      `memit: blocks ${
        m.settings.layers.join(", ")
      }, position ${m.settings.position}, λ ${m.settings.lambda}, ${m.settings.steps} Adam steps (lr ${m.settings.lr}), key covariances over ${m.texts} training texts${
        grid.length > 0 ? `; chosen on val from ${grid.join(", ")}` : ""
      }.`,
    );
  }
  lines.push(
    `Wall time: the edit sweep ${fmtMin(s.seconds.sweep)}; the whole experiment ${
      fmtMin(s.seconds.total)
    } (LM, meta-training, selection and sweep).`,
  );
  return lines;
}

function fmtMin(seconds: number): string {
  return seconds >= 90 ? `${(seconds / 60).toFixed(1)} min` : `${seconds.toFixed(0)} s`;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

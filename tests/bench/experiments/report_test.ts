// `deno task report --quick` runs the whole CounterFact experiment on a few hundred real records
// and writes well-formed rows, a Markdown table and an HTML report; bad flags fail clearly.
import assert from "node:assert/strict";
import { DATA_RAW_FILES, defaultDataRawDir } from "../../../malmen/data/data_raw.ts";
import { checkTargets } from "../../../bench/experiments/counterfact/render.ts";
import type { ResultRow } from "../../../bench/experiments/counterfact/sweep.ts";
import { runDeno } from "../../_run.ts";

const files = [
  DATA_RAW_FILES.counterfactTrain,
  DATA_RAW_FILES.counterfactVal,
  DATA_RAW_FILES.counterfactEdit,
];
const haveData = files.every((f) => {
  try {
    return Deno.statSync(new URL(f, defaultDataRawDir())).isFile;
  } catch {
    return false;
  }
});
if (!haveData) {
  console.log(
    `SKIP report --quick test: CounterFact not found under ${defaultDataRawDir().pathname}`,
  );
}

const report = (args: string[]) => runDeno(["bench/experiments/report.ts", ...args]);

Deno.test({
  name: "`deno task report --quick` writes rows, Markdown and HTML, and resumes from its rows",
  ignore: !haveData,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const r = await report(["--quick", "--runs", dir, "--results", `${dir}/out`, "--json"]);
      assert.equal(r.code, 0, r.err);
      const rows: ResultRow[] = JSON.parse(await Deno.readTextFile(`${dir}/out/counterfact.json`));
      const keys = [
        "editor",
        "m",
        "es",
        "gs",
        "ls",
        "efficacy",
        "paraphrase",
        "neighborhood",
        "score",
        "ls_before",
        "rows",
        "rows_per_d_in",
        "residual",
        "seconds",
        "peak_rss_mb",
      ];
      for (const m of [16, 64]) {
        const base = rows.find((x) => x.editor === "unedited" && x.m === m)!;
        for (const e of ["unedited", "malmen", "mend", "ft", "memit"]) {
          const row = rows.find((x) => x.editor === e && x.m === m);
          assert.ok(row, `row ${e} m=${m}`);
          assert.deepEqual(Object.keys(row).sort(), [...keys].sort());
          for (const k of ["es", "gs", "ls", "efficacy", "paraphrase", "neighborhood", "score"]) {
            const x = row[k as keyof ResultRow] as number;
            assert.ok(x >= 0 && x <= 1, `${e} m=${m} ${k}=${x}`);
          }
          if (e !== "unedited") assert.ok(row.peak_rss_mb > 0 && row.seconds >= 0);
          // Every row carries the unedited LS on the same facts and its regime.
          assert.equal(row.ls_before, base.ls, `${e} m=${m} ls_before`);
          // The quick plan's LM has d_model 32, so its edited layers have d_in = 128.
          if (e !== "unedited") {
            assert.equal(row.rows_per_d_in, Math.round((row.rows / 128) * 1e4) / 1e4);
          }
          if (e === "memit") assert.equal(row.rows, m);
          if (e === "malmen" || e === "mend" || e === "ft") assert.ok(row.rows >= m);
          if (e === "malmen" || e === "memit") {
            assert.ok(row.residual !== null && row.residual.every((x) => x >= 0 && x <= 1.0001));
          } else assert.equal(row.residual, null);
        }
      }
      assert.equal(r.out.trim().split("\n").length, rows.length, "one JSON line per row");
      const md = await Deno.readTextFile(`${dir}/out/counterfact.md`);
      assert.match(md, /\| 64 \| malmen \|/);
      assert.match(md, /\| 64 \| memit \|/);
      assert.match(md, /## Regime/);
      const html = await Deno.readTextFile(`${dir}/out/counterfact.html`);
      assert.ok(html.includes("<svg") && html.includes("</html>"));
      // A second run trains nothing and re-measures nothing: it reuses runs and rows.
      const again = await report(["--quick", "--runs", dir, "--results", `${dir}/out`]);
      assert.equal(again.code, 0, again.err);
      assert.doesNotMatch(again.err, /training|meta-training|editing/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("`deno task report` rejects a bad --m list with a clear error", async () => {
  const r = await report(["--m", "16,abc"]);
  assert.equal(r.code, 2);
  assert.match(r.err, /--m must list positive integers, got "abc"/);
});

Deno.test("`deno task report --help` describes the experiment", async () => {
  const r = await report(["--help"]);
  assert.equal(r.code, 0);
  assert.match(r.out, /^Usage: deno task report/);
});

Deno.test("`checkTargets()` compares MALMEN's score with each peer at m ≥ 256 and ES at 1024", () => {
  const row = (editor: string, m: number, score: number, es = 0.5): ResultRow => ({
    editor,
    m,
    es,
    gs: 0,
    ls: 0,
    efficacy: 0,
    paraphrase: 0,
    neighborhood: 0,
    score,
    ls_before: 0,
    rows: m,
    rows_per_d_in: m / 512,
    residual: null,
    seconds: 0,
    peak_rss_mb: 0,
  });
  const checks = checkTargets([
    row("malmen", 64, 0.1),
    row("mend", 64, 0.9),
    row("malmen", 256, 0.6),
    row("mend", 256, 0.5),
    row("ft", 256, 0.7),
    row("malmen", 1024, 0.6, 0.95),
    row("mend", 1024, 0.6),
  ]);
  assert.deepEqual(checks.map((c) => [c.target, c.met]), [
    ["score: MALMEN ≥ MEND-sum at m = 256", true],
    ["score: MALMEN ≥ FT at m = 256", false],
    ["score: MALMEN ≥ MEND-sum at m = 1024", true],
    ["ES ≥ 90% at m = 1024 (MALMEN)", true],
  ]);
});

// `deno task edit`: edits many facts at once with a trained editor and reports ES/GS/LS and
// CounterFact scores before vs after.
import { parseArgs } from "node:util";
import { writeFileAtomic, writeJsonAtomic } from "../engine/io/atomic.ts";
import { saveModule } from "../engine/nn/checkpoint.ts";
import { add } from "../engine/ops/elementwise.ts";
import { copyInto } from "../engine/ops/copy.ts";
import { noGrad } from "../engine/autograd.ts";
import { loadEditRecords } from "../malmen/data/edit_records.ts";
import { defaultEditorConfig, type Editor } from "../malmen/editors/editor.ts";
import { FtEditor } from "../malmen/editors/ft.ts";
import { HyperEditor } from "../malmen/editors/hyper.ts";
import { readJournalEntry, writeJournalEntry } from "../malmen/editors/journal.ts";
import { loadLmRun } from "../malmen/lm/load.ts";
import { setShift } from "../malmen/algorithm/shifts.ts";
import { latestCheckpoint } from "../malmen/lm/run_dir.ts";
import { editAndScore } from "../malmen/workflows.ts";
import { editReport, markdownSummary } from "../malmen/eval/report.ts";
import { toRequests } from "../malmen/eval/requests.ts";
import { COMMON_OPTIONS, num, pickBackend, runCli } from "./_cli/common.ts";

const HELP = `Usage: deno task edit --input FILE [options]

Edits all facts of FILE at once (a JSON array or JSONL of flattened CounterFact or ROME zsRE
records; the format is detected) and writes a report of ES, GS, LS and CounterFact efficacy /
paraphrase / neighbourhood before vs after, per request and aggregated.

Options:
  --input FILE        edit requests (required)
  --m N               edit only the first N records
  --lm DIR            trained LM run (default runs/lm)
  --editor NAME       malmen (default), mend or ft
  --editor-dir DIR    trained editor (default runs/<editor>; not used by ft)
  --passes N          MALMEN/MEND edit passes (default 1): each further pass edits again on
                      the model edited so far (more edit success, less locality)
  --out DIR           output folder (default runs/edit)
  --apply FILE        re-apply a saved journal entry instead of computing a new edit
  --write-model       also write the edited weights (W + ΔW) as model.safetensors
  --json              print one summary line as JSON
  --backend webgpu|cpu
  --help

The shift is saved as a journal entry (journal.safetensors): the stored model is never changed,
so reverting an edit is exact; --apply re-applies it later.`;

await runCli(async () => {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      input: { type: "string" },
      m: { type: "string" },
      lm: { type: "string", default: "runs/lm" },
      editor: { type: "string", default: "malmen" },
      "editor-dir": { type: "string" },
      passes: { type: "string" },
      out: { type: "string", default: "runs/edit" },
      apply: { type: "string" },
      "write-model": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      ...COMMON_OPTIONS,
    },
  });
  if (v.help) {
    console.log(HELP);
    return;
  }
  const passes = num("passes", v.passes, 1);
  if (!Number.isInteger(passes) || passes < 1) {
    throw new TypeError(`--passes must be an integer ≥ 1, got "${v.passes}"`);
  }
  if (v.input === undefined) throw new TypeError("--input FILE is required (see --help)");
  if (!["malmen", "mend", "ft"].includes(v.editor!)) {
    throw new TypeError(`--editor must be malmen, mend or ft, got "${v.editor}"`);
  }
  // Validate the input before loading anything heavy.
  let records = await loadEditRecords(v.input);
  if (v.m !== undefined) records = records.slice(0, num("m", v.m, records.length));
  if (records.length === 0) throw new RangeError(`"${v.input}" has no records to edit`);
  const backend = await pickBackend(v.backend);
  const { model, tokenizer } = await loadLmRun(v.lm!, backend);
  const requests = toRequests(tokenizer, records, model.config.nCtx);
  const out = v.out!;
  await Deno.mkdir(out, { recursive: true });

  let editor: Editor;
  if (v.apply !== undefined) {
    const { shifts, metadata } = await readJournalEntry(v.apply, model);
    editor = {
      name: "malmen",
      config: defaultEditorConfig(model.config.nLayer),
      computeShifts: () => Promise.resolve(shifts),
    };
    (editor as { name: string }).name = metadata.editor ?? "journal";
  } else if (v.editor === "ft") {
    editor = new FtEditor(defaultEditorConfig(model.config.nLayer));
  } else {
    // A training run directory (its latest checkpoint) or a checkpoint folder itself.
    const dir = v["editor-dir"] ?? `runs/${v.editor}`;
    const hyper = await HyperEditor.load((await latestCheckpoint(dir))?.folder ?? dir, model);
    hyper.editPasses = passes;
    editor = hyper;
  }
  const outcome = await editAndScore(model, editor, requests);
  const report = editReport(outcome, requests);
  await writeJsonAtomic(`${out}/report.json`, report);
  await writeFileAtomic(`${out}/report.md`, `# Edit report\n\n${markdownSummary([report])}\n`);
  await writeJournalEntry(`${out}/journal.safetensors`, outcome.shifts, {
    editor: outcome.editor,
    m: outcome.m,
    created: new Date().toISOString(),
    input: v.input,
  });
  if (v["write-model"]) {
    // The edited weights as a plain checkpoint: W + ΔW folded in (the run's W is untouched).
    for (const [layer, shift] of outcome.shifts) {
      const w = model.getParameter(`h.${layer}.mlp.c_proj.weight`);
      const edited = noGrad(() => add(w, shift));
      setShift(model, layer, null);
      copyInto(w, edited);
      edited.dispose();
    }
    await saveModule(model, `${out}/model.safetensors`, {
      edited_by: outcome.editor,
      m: String(outcome.m),
    });
  }
  if (v.json) {
    console.log(JSON.stringify({
      editor: outcome.editor,
      m: outcome.m,
      es: r4(outcome.after.es),
      gs: r4(outcome.after.gs),
      ls: r4(outcome.after.ls),
      efficacy: r4(outcome.after.efficacy),
      paraphrase: r4(outcome.after.paraphrase),
      neighborhood: r4(outcome.after.neighborhood),
      score: r4(outcome.after.score),
      seconds: r4(outcome.seconds),
    }));
  } else {
    console.log(markdownSummary([report]));
    console.log(
      `\nReport: ${out}/report.json, ${out}/report.md; journal entry: ${out}/journal.safetensors`,
    );
  }
  for (const t of outcome.shifts.values()) t.dispose();
  model.dispose();
});

function r4(x: number): number {
  return Math.round(x * 10000) / 10000;
}

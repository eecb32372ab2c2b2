// `deno task edit`: edits many facts at once with a trained editor and reports ES/GS/LS and
// CounterFact scores before vs after.
import { parseArgs } from "node:util";
import { writeFileAtomic, writeJsonAtomic } from "../engine/io/atomic.ts";
import { saveModule } from "../engine/nn/checkpoint.ts";
import { loadEditRecords } from "../malmen/data/edit_records.ts";
import { defaultEditorConfig, type Editor } from "../malmen/editors/editor.ts";
import { FtEditor } from "../malmen/editors/ft.ts";
import { foldShifts, journalEditor, writeJournalEntry } from "../malmen/editors/journal.ts";
import { editAndScore } from "../malmen/eval/edit_and_score.ts";
import { editReport, markdownSummary } from "../malmen/eval/report.ts";
import { toRequests } from "../malmen/eval/requests.ts";
import { loadLm, saveHfLm } from "../malmen/lm/source.ts";
import { loadEditorRun } from "../malmen/workflows/runs.ts";
import {
  COMMON_HELP,
  COMMON_OPTIONS,
  int,
  lmFlag,
  oneOf,
  pickBackend,
  r4,
  runCli,
  UsageError,
} from "./_cli/mod.ts";

const HELP = `Usage: deno task edit --input FILE [options]

Edits all facts of FILE at once (a JSON array or JSONL of flattened CounterFact or ROME zsRE
records; the format is detected) and writes a report of ES, GS, LS and CounterFact efficacy /
paraphrase / neighbourhood before vs after, per request and aggregated.

Options:
  --input FILE        edit requests (required)
  --m N               edit only the first N records
  --lm DIR|hf:DIR     trained LM run, or a Hugging Face GPT-2 directory (config.json,
                      model.safetensors, vocab.json/merges.txt when present); default
                      runs/lm; the demo's is runs/demo/lm
  --editor NAME       malmen (default), mend or ft
  --editor-dir DIR    trained editor run, used at its checkpoint chosen on the validation
                      split, or a checkpoint folder (default runs/<editor>; not used by ft)
  --passes N          MALMEN/MEND edit passes (default 1): each further pass edits again on
                      the model edited so far (more edit success, less locality)
  --out DIR           output folder (default runs/edit)
  --apply FILE        re-apply a saved journal entry instead of computing a new edit
  --write-model       also write the edited weights (W + ΔW)
  --format F          with --write-model: safetensors (default: OUT/model.safetensors) or
                      hf (OUT/model/, an HF GPT-2 directory: use it with --lm hf:OUT/model)
  --json              print one summary line as JSON
${COMMON_HELP}

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
      format: { type: "string" },
      json: { type: "boolean", default: false },
      ...COMMON_OPTIONS,
    },
  });
  if (v.help) return console.log(HELP);
  // Validate every flag and the input before loading anything heavy.
  const passes = int("passes", v.passes, 1);
  if (v.input === undefined) throw new UsageError("--input FILE is required (see --help)");
  const editorName = oneOf("editor", v.editor!, ["malmen", "mend", "ft"] as const);
  const lm = lmFlag(v.lm!);
  const format = oneOf("format", v.format ?? "safetensors", ["safetensors", "hf"] as const);
  if (v.format !== undefined && !v["write-model"]) {
    throw new UsageError("--format only applies with --write-model");
  }
  let records = await loadEditRecords(v.input);
  if (v.m !== undefined) records = records.slice(0, int("m", v.m, records.length));
  if (records.length === 0) throw new RangeError(`"${v.input}" has no records to edit`);
  const backend = await pickBackend(v.backend);
  const { model, tokenizer } = await loadLm(lm, backend);
  const requests = toRequests(tokenizer, records, model.config.nCtx);
  const out = v.out!;
  await Deno.mkdir(out, { recursive: true });

  let editor: Editor;
  if (v.apply !== undefined) editor = await journalEditor(v.apply, model);
  else if (editorName === "ft") editor = new FtEditor(defaultEditorConfig(model.config.nLayer));
  else {
    const { editor: hyper } = await loadEditorRun(v["editor-dir"] ?? `runs/${editorName}`, model);
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
  let written = "";
  if (v["write-model"]) {
    // The edited weights as a checkpoint of their own (the LM's stored W is untouched).
    foldShifts(model, outcome.shifts);
    const by = { edited_by: outcome.editor, m: String(outcome.m) };
    if (format === "hf") {
      await saveHfLm(`${out}/model`, model, tokenizer, by);
      written = `; edited model: ${out}/model/ (use it with --lm hf:${out}/model)`;
    } else {
      await saveModule(model, `${out}/model.safetensors`, by);
      written = `; edited weights: ${out}/model.safetensors`;
    }
  }
  if (v.json) {
    const a = outcome.after;
    console.log(JSON.stringify({
      editor: outcome.editor,
      m: outcome.m,
      es: r4(a.es),
      gs: r4(a.gs),
      ls: r4(a.ls),
      efficacy: r4(a.efficacy),
      paraphrase: r4(a.paraphrase),
      neighborhood: r4(a.neighborhood),
      score: r4(a.score),
      seconds: r4(outcome.seconds),
    }));
  } else {
    console.log(markdownSummary([report]));
    console.log(
      `\nReport: ${out}/report.json, ${out}/report.md; journal entry: ` +
        `${out}/journal.safetensors${written}`,
    );
  }
  for (const t of outcome.shifts.values()) t.dispose();
  model.dispose();
});

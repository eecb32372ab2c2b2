// `deno task edit`: edits many facts at once with a trained editor and reports ES/GS/LS and
// CounterFact scores before vs after.
import { parseArgs } from "node:util";
import { writeFileAtomic, writeJsonAtomic } from "../engine/io/atomic.ts";
import { saveModule } from "../engine/nn/checkpoint.ts";
import { loadEditRecords } from "../malmen/data/edit_records.ts";
import { createRng } from "../malmen/data/prng.ts";
import { defaultEditorConfig } from "../malmen/editors/editor.ts";
import { HyperEditor } from "../malmen/editors/hyper.ts";
import { foldShifts, journalEditor, writeJournalEntry } from "../malmen/editors/journal.ts";
import { editAndScore } from "../malmen/eval/edit_and_score.ts";
import { editReport, markdownSummary } from "../malmen/eval/report.ts";
import { toRequests } from "../malmen/eval/requests.ts";
import { loadLmRun } from "../malmen/lm/load.ts";
import { EDITOR_NAMES, type OpenedEditor, openEditor } from "../malmen/workflows/editors.ts";
import { COUNTERFACT_SHUFFLE_SEED } from "../malmen/workflows/settings.ts";
import {
  COMMON_HELP,
  COMMON_OPTIONS,
  int,
  num,
  oneOf,
  pickBackend,
  r4,
  runCli,
  scoreLine,
  UsageError,
} from "./_cli/mod.ts";

// FT's defaults (the flags override them); they do not depend on the model.
const FT_DEFAULTS = defaultEditorConfig(1);

const HELP = `Usage: deno task edit --input FILE [options]

Edits all facts of FILE at once (a JSON array or JSONL of flattened CounterFact or ROME zsRE
records; the format is detected) and writes a report of ES, GS, LS and CounterFact efficacy /
paraphrase / neighbourhood before vs after, per request and aggregated.

Options:
  --input FILE        edit requests (required)
  --shuffle SEED      shuffle the records with this seed before taking --m (the CounterFact
                      report edits the first m of counterfact-edit.json shuffled with ${COUNTERFACT_SHUFFLE_SEED})
  --m N               edit only the first N records
  --lm DIR            trained LM run (default runs/lm; the demo's is runs/demo/lm)
  --editor NAME       malmen (default), mend, ft or memit
  --editor-dir DIR    trained editor run, used at its checkpoint chosen on the validation
                      split, or a checkpoint folder; for memit its folder (key covariances and
                      settings, e.g. runs/demo/memit). Default runs/<editor>; not used by ft
  --passes N          MALMEN/MEND edit passes (default 1): each further pass edits again on
                      the model edited so far (more edit success, less locality)
  --ft-lr X           FT's Adam learning rate (default ${FT_DEFAULTS.ftLr}; the CounterFact report's
                      choice on val is in its setup)
  --ft-epochs N       FT's passes over the edit tuples (default ${FT_DEFAULTS.ftEpochs}, at least ${FT_DEFAULTS.ftMinSteps} steps)
  --out DIR           output folder (default runs/edit)
  --apply FILE        re-apply a saved journal entry instead of computing a new edit
  --write-model       also write the edited weights (W + ΔW) as model.safetensors
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
      shuffle: { type: "string" },
      "ft-lr": { type: "string" },
      "ft-epochs": { type: "string" },
      out: { type: "string", default: "runs/edit" },
      apply: { type: "string" },
      "write-model": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      ...COMMON_OPTIONS,
    },
  });
  if (v.help) return console.log(HELP);
  // Validate every flag and the input before loading anything heavy.
  const passes = int("passes", v.passes, 1);
  const ftLr = num("ft-lr", v["ft-lr"], FT_DEFAULTS.ftLr);
  if (!(ftLr > 0)) throw new UsageError(`--ft-lr must be a number > 0, got "${v["ft-lr"]}"`);
  const ftEpochs = int("ft-epochs", v["ft-epochs"], FT_DEFAULTS.ftEpochs);
  const shuffle = v.shuffle === undefined ? null : int("shuffle", v.shuffle, 0, 0);
  if (v.input === undefined) throw new UsageError("--input FILE is required (see --help)");
  const editorName = oneOf("editor", v.editor!, EDITOR_NAMES);
  let records = await loadEditRecords(v.input);
  if (shuffle !== null) createRng(shuffle).shuffle(records);
  if (v.m !== undefined) records = records.slice(0, int("m", v.m, records.length));
  if (records.length === 0) throw new RangeError(`"${v.input}" has no records to edit`);
  const backend = await pickBackend(v.backend);
  const { model, tokenizer } = await loadLmRun(v.lm!, backend);
  const requests = toRequests(tokenizer, records, model.config.nCtx);
  const out = v.out!;
  await Deno.mkdir(out, { recursive: true });

  const editor: OpenedEditor = v.apply !== undefined
    ? await journalEditor(v.apply, model)
    : await openEditor(editorName, model, { dir: v["editor-dir"], ftLr, ftEpochs, passes });
  if (editor instanceof HyperEditor) editor.measureFit = true;
  const outcome = await editAndScore(model, editor, requests);
  // How much of the requested change one ΔW per layer delivered (least-squares editors).
  const fit = (editor as { lastFit?: number[] | null }).lastFit ?? null;
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
    // The edited weights as a plain checkpoint (the run's stored W is untouched).
    foldShifts(model, outcome.shifts);
    await saveModule(model, `${out}/model.safetensors`, {
      edited_by: outcome.editor,
      m: String(outcome.m),
    });
  }
  const residual = fit === null ? null : Object.fromEntries(
    editor.config.layers.map((l, i) => [`block ${l}`, r4(fit[i])]),
  );
  if (v.json) console.log(JSON.stringify({ ...scoreLine(outcome), residual }));
  else {
    console.log(markdownSummary([report]));
    if (fit !== null) {
      console.log(
        `\nLeast-squares residual ‖KΔW − D‖/‖D‖ per edited layer: ${
          Object.entries(residual!).map(([k, x]) => `${k} ${x}`).join(", ")
        } (${requests.length} facts; key width d_in = ${model.config.dInner}).`,
      );
    }
    console.log(
      `\nReport: ${out}/report.json, ${out}/report.md; journal entry: ${out}/journal.safetensors`,
    );
  }
  for (const t of outcome.shifts.values()) t.dispose();
  editor.dispose?.();
  model.dispose();
});

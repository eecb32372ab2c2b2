// `deno task edit`: edits many facts at once with a trained editor and reports ES/GS/LS and
// CounterFact scores before vs after; each edit is an entry of the --out folder's append-only
// journal, which --apply and --revert switch on and off.
import { parseArgs } from "node:util";
import { writeFileAtomic, writeJsonAtomic } from "../engine/io/atomic.ts";
import { saveModule } from "../engine/nn/checkpoint.ts";
import { loadEditRecords } from "../malmen/data/edit_records.ts";
import { createRng } from "../malmen/data/prng.ts";
import { defaultEditorConfig } from "../malmen/editors/editor.ts";
import { HyperEditor } from "../malmen/editors/hyper.ts";
import { foldShifts, replayEditor } from "../malmen/editors/journal.ts";
import { Journal } from "../malmen/editors/journal_log.ts";
import { degenerateError, findDegenerate } from "../malmen/eval/degenerate.ts";
import { editAndScore } from "../malmen/eval/edit_and_score.ts";
import { editReport, markdownSummary } from "../malmen/eval/report.ts";
import { toRequests } from "../malmen/eval/requests.ts";
import { dataHash } from "../malmen/lm/identity.ts";
import { loadLm, saveHfLm } from "../malmen/lm/source.ts";
import { EDITORS, type OpenedEditor, openEditor } from "../malmen/workflows/editors.ts";
import { editBytes } from "../malmen/workflows/footprint.ts";
import { COUNTERFACT_SHUFFLE_SEED } from "../malmen/workflows/settings.ts";
import {
  COMMON_HELP,
  COMMON_OPTIONS,
  int,
  lmFlag,
  num,
  oneOf,
  optionalNum,
  pickBackend,
  r4,
  RANGES,
  requireEditorRun,
  requireFile,
  requireLmRun,
  requireMemitDir,
  requireOutput,
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
  --input FILE        edit requests (required, except with --apply and --revert)
  --shuffle SEED      shuffle the records with this seed before taking --m (the CounterFact
                      report edits the first m of counterfact-edit.json shuffled with
                      ${COUNTERFACT_SHUFFLE_SEED})
  --m N               edit only the first N records
  --lm DIR|hf:DIR     trained LM run, or a Hugging Face GPT-2 directory (config.json,
                      model.safetensors, vocab.json/merges.txt when present); default
                      runs/lm; the demo's is runs/demo/lm
  --editor NAME       malmen (default), mend, ft or memit
  --editor-dir DIR    trained editor run, used at its checkpoint chosen on the validation
                      split, or a checkpoint folder; for memit its folder (key covariances and
                      settings, e.g. runs/demo/memit). Default runs/<editor>; not used by ft
  --passes N          MALMEN/MEND edit passes (default: the editor's setting, 1 unless it was
                      meta-trained with more): each further pass edits again on the model
                      edited so far (more edit success, less locality)
  --ft-lr X           FT's Adam learning rate (default ${FT_DEFAULTS.ftLr}; the CounterFact
                      report's choice on val is in its setup)
  --ft-epochs N       FT's passes over the edit tuples (default ${FT_DEFAULTS.ftEpochs}, at least
                      ${FT_DEFAULTS.ftMinSteps} steps)
  --out DIR           the journal's folder (default runs/edit)
  --apply ID          re-apply journal entry ID of --out instead of computing a new edit (scored
                      on --input, by default the records it was made from)
  --revert ID         revert journal entry ID of --out (nothing is computed)
  --write-model       also write the edited weights (W + the applied entries' ΔW) into
                      --out/models/, named after the journal event
  --format F          with --write-model: safetensors (default: one .safetensors file) or hf
                      (a folder, an HF GPT-2 directory: use it with --lm hf:FOLDER)
  --allow-conflicts   keep requests that cannot be measured (empty target, target equal to the
                      answer, conflicting targets for one subject and prompt): flagged in the
                      report and left out of its rates (default: refused by record index)
  --force             use an editor or journal entry made for another LM
  --json              print one summary line as JSON
${COMMON_HELP}

Each edit is its own entry of the append-only journal in --out (entries/, log/): the stored
model is never changed, so reverting an edit is exact, and nothing is ever overwritten. Reports
go to --out/reports/, one per journal event. One writer per --out at a time.`;

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
      revert: { type: "string" },
      "write-model": { type: "boolean", default: false },
      format: { type: "string" },
      "allow-conflicts": { type: "boolean", default: false },
      force: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      ...COMMON_OPTIONS,
    },
  });
  if (v.help) return console.log(HELP);
  // Validate every flag, the inputs and the output before loading anything heavy.
  const passes = optionalNum("passes", v.passes, { integer: true, min: 1 });
  const ftLr = num("ft-lr", v["ft-lr"], FT_DEFAULTS.ftLr, RANGES.lr);
  const ftEpochs = int("ft-epochs", v["ft-epochs"], FT_DEFAULTS.ftEpochs);
  const shuffle = optionalNum("shuffle", v.shuffle, RANGES.seed);
  const m = optionalNum("m", v.m, RANGES.count);
  const applyId = optionalNum("apply", v.apply, RANGES.count);
  const revertId = optionalNum("revert", v.revert, RANGES.count);
  if (applyId !== undefined && revertId !== undefined) {
    throw new UsageError("--apply and --revert exclude each other");
  }
  const editorName = oneOf("editor", v.editor!, EDITORS.map((e) => e.name));
  const lm = lmFlag(v.lm!);
  const format = oneOf("format", v.format ?? "safetensors", ["safetensors", "hf"] as const);
  if (v.format !== undefined && !v["write-model"]) {
    throw new UsageError("--format only applies with --write-model");
  }
  const out = v.out!;
  if (revertId !== undefined) return await revert(out, revertId);
  if (v.input === undefined && applyId === undefined) {
    throw new UsageError("--input FILE is required (see --help)");
  }
  // --apply scores on the records the entry was made from unless --input names others.
  const input = v.input ?? (await Journal.open(out)).entry(applyId!).input;
  await requireFile("input", input);
  let records = await loadEditRecords(input);
  if (shuffle !== undefined) createRng(shuffle).shuffle(records);
  if (m !== undefined) records = records.slice(0, m);
  if (records.length === 0) throw new RangeError(`"${input}" has no records to edit`);
  const flagged = findDegenerate(records);
  if (flagged.length > 0 && !v["allow-conflicts"]) throw degenerateError(input, flagged);
  const lmConfig = await requireLmRun("lm", lm);
  const editorDir = v["editor-dir"] ?? `runs/${editorName}`;
  const needs = EDITORS.find((e) => e.name === editorName)!.needs;
  if (applyId === undefined && needs === "run") await requireEditorRun("editor-dir", editorDir);
  if (applyId === undefined && needs === "memit") await requireMemitDir("editor-dir", editorDir);
  // MEMIT may edit any of the blocks (its settings choose); the others edit the default ones.
  const layers = needs === "memit"
    ? lmConfig.nLayer
    : defaultEditorConfig(lmConfig.nLayer).layers.length;
  const bytes = editBytes(lmConfig, layers, records.length, v["write-model"]!);
  // The backend is checked before anything is written (requireOutput creates the folder).
  const backend = await pickBackend(v.backend);
  await requireOutput("out", out, bytes, "the journal entry and report");
  const journal = await Journal.open(out, { write: true });
  try {
    const entry = applyId === undefined ? null : journal.entry(applyId);
    const { model, tokenizer, identity } = await loadLm(lm, backend);
    const requests = toRequests(tokenizer, records, model.config.nCtx);
    const force = { force: v.force };
    const editor: OpenedEditor = entry !== null
      ? replayEditor(entry.editor, model, await journal.readShifts(entry.id, model, force))
      : await openEditor(editorName, model, { dir: editorDir, ftLr, ftEpochs, passes, ...force });
    if (editor instanceof HyperEditor) editor.measureFit = true;
    const outcome = await editAndScore(model, editor, requests);
    // How much of the requested change one ΔW per layer delivered (least-squares editors).
    const fit = (editor as { lastFit?: number[] | null }).lastFit ?? null;
    editor.dispose?.();
    // The journal first: a report never describes an edit that was not journaled.
    const committed = entry !== null
      ? (await journal.apply(entry.id), entry)
      : await journal.addEdit(outcome.shifts, {
        editor: outcome.editor,
        m: outcome.m,
        records: await dataHash(records),
        lm: identity,
        input,
      });
    const event = journal.events.at(-1)!;
    const name = `${String(event.seq).padStart(6, "0")}-${event.op}-${committed.id}`;
    const report = editReport(outcome, requests, flagged);
    const reportPath = `${out}/reports/${name}`;
    await writeJsonAtomic(`${reportPath}.json`, { entry: committed, ...report }, {
      createNew: true,
    });
    await writeFileAtomic(
      `${reportPath}.md`,
      `# Edit report (journal entry ${committed.id}, ${event.op})\n\n${
        markdownSummary([report])
      }\n`,
      { createNew: true },
    );
    for (const t of outcome.shifts.values()) t.dispose();
    let written = "";
    if (v["write-model"]) {
      // W + ΔW of every applied entry as a checkpoint of its own (the LM's stored W is
      // untouched); both formats record the LM it was edited from and the entries applied.
      const active = await journal.activeShifts(model, force);
      foldShifts(model, active);
      for (const t of active.values()) t.dispose();
      const provenance = {
        edited_from: identity,
        journal_entries: journal.active.join(","),
        edited_by: outcome.editor,
      };
      if (format === "hf") {
        const dir = `${out}/models/${name}`;
        await saveHfLm(dir, model, tokenizer, provenance);
        written = `; edited model: ${dir}/ (use it with --lm hf:${dir})`;
      } else {
        await saveModule(model, `${out}/models/${name}.safetensors`, provenance);
        written = `; edited weights: ${out}/models/${name}.safetensors`;
      }
    }
    const residual = fit === null ? null : Object.fromEntries(
      editor.config.layers.map((l, i) => [`block ${l}`, r4(fit[i])]),
    );
    if (v.json) {
      // The report's rates: flagged requests are left out.
      const line = { entry: committed.id, ...scoreLine(report), excluded: report.excluded };
      console.log(JSON.stringify({ ...line, residual }));
    } else {
      console.log(markdownSummary([report]));
      if (report.excluded > 0) {
        console.log(`\n${report.excluded} flagged requests are left out of the rates.`);
      }
      if (fit !== null) {
        console.log(
          `\nLeast-squares residual ‖KΔW − D‖/‖D‖ per edited layer: ${
            Object.entries(residual!).map(([k, x]) => `${k} ${x}`).join(", ")
          } (${requests.length} facts; key width d_in = ${model.config.dInner}).`,
        );
      }
      console.log(
        `\nJournal entry ${committed.id} (${event.op}) in ${out}; applied now: ${
          journal.active.join(", ") || "none"
        }.\nReport: ${reportPath}.json, ${reportPath}.md${written}`,
      );
    }
    model.dispose();
  } finally {
    await journal.close();
  }
});

async function revert(out: string, id: number): Promise<void> {
  const journal = await Journal.open(out, { write: true });
  try {
    await journal.revert(id);
    console.log(
      `Reverted journal entry ${id} of ${out}; applied now: ${
        journal.active.join(", ") || "none"
      }.`,
    );
  } finally {
    await journal.close();
  }
}

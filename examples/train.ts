// `deno task train`: trains the language model (default) or meta-trains an editor on top of it.
import { parseArgs } from "node:util";
import { writeFileAtomic } from "../engine/io/atomic.ts";
import { defaultEditorConfig } from "../malmen/editors/editor.ts";
import { KEY_POSITIONS } from "../malmen/algorithm/capture.ts";
import { trainEditor } from "../malmen/editors/train_editor.ts";
import { type DataSpec, loadDataRecords, loadDataSplits } from "../malmen/data/data_source.ts";
import { MEMIT_FILE } from "../malmen/editors/memit.ts";
import { latestCheckpoint, runPath } from "../malmen/lm/run_dir.ts";
import { loadLm } from "../malmen/lm/source.ts";
import { memitRun } from "../malmen/workflows/memit_run.ts";
import { memitGrid } from "../malmen/workflows/settings.ts";
import { trainLm } from "../malmen/lm/train.ts";
import { editorRunBytes, lmRunBytes, memitBytes } from "../malmen/workflows/footprint.ts";
import {
  contextFor,
  counterFactSetup,
  editorData,
  modelConfigFor,
  worldSetup,
} from "../malmen/workflows/setup.ts";
import {
  budgetBar,
  COMMON_HELP,
  COMMON_OPTIONS,
  dataFlag,
  int,
  intList,
  linePlot,
  lmFlag,
  lmStepText,
  num,
  oneOf,
  optionalNum,
  pct,
  pickBackend,
  Progress,
  r4,
  RANGES,
  requireEditorRun,
  requireLmRun,
  requireOutput,
  runCli,
  stopOnSigint,
  UsageError,
} from "./_cli/mod.ts";

const HELP = `Usage: deno task train [--editor lm|malmen|mend|memit] [options]

Trains the GPT language model on the embedded synthetic world (default) or on the true facts
of edit records (CounterFact, zsRE, your own file), meta-trains a MALMEN / MEND editor for a
trained model, or sets up MEMIT for it.

--data is world (default), counterfact or zsre (looked up in $MALMEN_DATA, then
../shared/data-raw, then the cache of deno task data fetch), a JSON or JSONL file of flattened
CounterFact or ROME zsRE records (format detected; split train/val/edit 45/10/45 by a fixed
shuffle), or a folder holding train, val and edit files.

Language model (--editor lm, the default):
  --data DATA                training facts: all records' true facts and paraphrases
  --out DIR                  run directory (default runs/lm)
  --minutes N                training time limit, resumed parts included (default 10)
  --epochs N                 epoch limit (default 200)
  --batch N                  sequences per step (default 64)
  --lr X                     peak learning rate (default 6e-3)
  --d-model N --layers N --heads N   model size (default 128, 4, 4)
  --d-inner N                FFN width = key width of the edited layers (default 4·d-model)
  --target X                 stop at this answer accuracy (default 0.995)
  On --data other than world the context is the longest text rounded up to 8 tokens (72 on
  CounterFact), only answer tokens are trained (the output layer over its large vocabulary
  then runs on answer positions alone) and batches group texts of similar length.
Editor (--editor malmen or mend):
  --lm DIR|hf:DIR            trained LM run, or a Hugging Face GPT-2 directory (config.json,
                             model.safetensors; default runs/lm; the demo's is runs/demo/lm)
  --data DATA                facts to meta-train on (the train split; checkpoints are chosen
                             on the val split)
  --out DIR                  run directory (default runs/<editor>)
  --n-edits N                facts edited per meta-step (default 64)
  --steps N                  meta-steps (default: one epoch)
  --meta-lr X                Adam learning rate (default 1e-4)
  --val-every N              validate every N steps (default 10)
  --minutes N                meta-training time limit, resumed parts included (default none)
  --init-from DIR            start from a saved editor checkpoint (fine-tuning)
  --loc-coef X               weight of the locality KL in the meta-loss (default 1)
  --edit-loss                also train on the edit prompts (CE over edit tuples)
  --key-prior MU             preservation prior μ·E[uuᵀ] over the LM's own facts in the
                             least-squares solve (MALMEN; default 0 = the paper's ridge)
  --layers-edited LIST       edited blocks, e.g. 0,1,2,3 (default: the last half)
  --key-positions answer|first|all  keys at every answer token (default), the first only, or
                             every prompt and answer position
  --edit-key-prior MU        the prior of edits only (MALMEN; default --key-prior)
  --edit-eta-scale X         factor on each edit pass's shift (default 1)
  --edit-eta-scale-by-size LIST  factors for smaller edits as MAX_FACTS:SCALE pairs, e.g.
                             8:1,32:2 (an edit of m facts at once takes the first pair with
                             m ≤ MAX_FACTS, --edit-eta-scale above them)
  --edit-passes N            edit passes (default 1); saved with the editor
  The demo's MALMEN uses --layers-edited 0,1,2,3 --key-positions all --edit-key-prior
  3000 --edit-eta-scale 3 --edit-eta-scale-by-size 16:1,56:2 --edit-passes 7 (chosen on
  val facts of other worlds).
  --resample                 world only: redraw targets, templates and locality probes of
                             the training facts every epoch
  --force                    resume or --init-from an editor made for another LM
MEMIT (--editor memit; no meta-training):
  --lm DIR|hf:DIR --data DATA   as above; the key covariances average over the LM's training
                             texts (those of the data's records), and MEMIT's defaults and the
                             paper's form at the subject are chosen between on the val split
  --out DIR                  its folder (default runs/memit), for deno task edit --editor memit;
                             --resume reuses the one there, --overwrite sets it up afresh
Common:
  --seed N        seed (an integer from 0 to 2^32-1; default 0)
  --resume        continue the run in --out (on the same data)
  --overwrite     train afresh into an --out that already holds a run
  --json          print one summary line as JSON
${COMMON_HELP}

Every number is checked against its range, and --out for room and write access, before any
training starts. A NaN or infinite loss stops training with an error naming the step; the last
checkpoint stays. Ctrl-C stops after the current step and leaves a usable checkpoint; --resume
continues.`;

await runCli(async () => {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      editor: { type: "string", default: "lm" },
      data: { type: "string", default: "world" },
      out: { type: "string" },
      lm: { type: "string", default: "runs/lm" },
      minutes: { type: "string" },
      epochs: { type: "string" },
      batch: { type: "string" },
      lr: { type: "string" },
      "d-model": { type: "string" },
      layers: { type: "string" },
      heads: { type: "string" },
      "d-inner": { type: "string" },
      target: { type: "string" },
      "n-edits": { type: "string" },
      steps: { type: "string" },
      "meta-lr": { type: "string" },
      "val-every": { type: "string" },
      "init-from": { type: "string" },
      "loc-coef": { type: "string" },
      "edit-loss": { type: "boolean", default: false },
      "key-prior": { type: "string" },
      "edit-key-prior": { type: "string" },
      "edit-eta-scale": { type: "string" },
      "edit-eta-scale-by-size": { type: "string" },
      "edit-passes": { type: "string" },
      "key-positions": { type: "string" },
      "layers-edited": { type: "string" },
      resample: { type: "boolean", default: false },
      seed: { type: "string" },
      resume: { type: "boolean", default: false },
      overwrite: { type: "boolean", default: false },
      force: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      ...COMMON_OPTIONS,
    },
  });
  if (v.help) return console.log(HELP);
  const editor = oneOf("editor", v.editor!, ["lm", "malmen", "mend", "memit"] as const);
  const data = dataFlag(v.data!);
  const seed = num("seed", v.seed, 0, RANGES.seed);
  if (v.resample && (editor === "lm" || editor === "memit" || data.kind !== "world")) {
    throw new UsageError("--resample needs --editor malmen|mend and --data world");
  }
  if (v.resume && v.overwrite) throw new UsageError("--resume and --overwrite exclude each other");
  if (editor === "lm") await trainLanguageModel(v, data, seed);
  else if (editor === "memit") await setUpMemit(v, data);
  else await trainHyperEditor(v, editor, data, seed);
});

type Flags = Record<string, string | boolean | undefined>;

async function trainLanguageModel(v: Flags, data: DataSpec, seed: number) {
  const flag = (name: string) => v[name] as string | undefined;
  const dInner = flag("d-inner");
  const world = data.kind === "world";
  const maxSeconds = num("minutes", flag("minutes"), 10, RANGES.positive) * 60;
  const options = {
    batchSize: int("batch", flag("batch"), 64, 1, 65536),
    lr: num("lr", flag("lr"), 6e-3, RANGES.lr),
    maxEpochs: int("epochs", flag("epochs"), 200),
    targetAccuracy: num("target", flag("target"), 0.995, RANGES.fraction),
  };
  const model = {
    dModel: int("d-model", flag("d-model"), 128, 1, 65536),
    nLayer: int("layers", flag("layers"), 4, 1, 1024),
    nHead: int("heads", flag("heads"), 4, 1, 1024),
    ...(dInner === undefined ? {} : { dInner: int("d-inner", dInner, 1, 1, 1 << 20) }),
  };
  if (model.dModel % model.nHead !== 0) {
    throw new UsageError(
      `--heads must divide --d-model, got ${model.nHead} heads for a width of ${model.dModel}`,
    );
  }
  // The data is read and checked first, then the output folder.
  const records = world ? [] : await loadDataRecords(data);
  const setup = world ? await worldSetup() : await counterFactSetup(records);
  const nCtx = world ? 32 : contextFor(setup.tokenizer, records);
  const out = flag("out") ?? "runs/lm";
  await refuseOverwrite(out, v);
  const config = modelConfigFor(setup.tokenizer, { ...model, nCtx });
  // The backend is checked before anything is written (requireOutput creates the folder).
  const backend = await pickBackend(flag("backend"));
  await requireOutput("out", out, lmRunBytes(config), "the checkpoints");
  const stop = stopOnSigint();
  const bar = budgetBar("train lm", maxSeconds);
  const r = await trainLm(setup.corpus, setup.tokenizer, {
    ...options,
    outDir: out,
    config,
    backend,
    seed,
    maxSeconds,
    lmWeight: world ? 1 : 0,
    bucketByLength: !world,
    resume: v.resume as boolean,
    stop,
    onStep: (i) => bar.update(lmStepText(i, true)),
  });
  bar.finish(`answer acc ${(100 * r.answerAcc).toFixed(2)}%`);
  const points = r.history.map((h) => [h.step, h.loss] as const);
  await writeFileAtomic(
    `${out}/loss.svg`,
    linePlot([{ name: "loss", points }], {
      title: "Language-model training loss",
      xLabel: "step",
      yLabel: "cross-entropy",
    }),
  );
  if (v.json) {
    console.log(JSON.stringify({
      train: "lm",
      facts: r.facts,
      answer_acc: r4(r.answerAcc),
      paraphrase_acc: r4(r.paraphraseAcc),
      seconds: r4(r.seconds),
    }));
  } else {
    console.log(
      `Trained ${r.steps} steps in ${r.seconds.toFixed(0)} s: answer accuracy ${
        pct(r.answerAcc)
      } on ${r.facts} facts, paraphrase accuracy ${pct(r.paraphraseAcc)}${
        r.interrupted ? " (interrupted)" : ""
      }.\nCheckpoint, tokenizer and loss curve in ${out}/ (LM identity ${r.identity}).`,
    );
  }
  r.model.dispose();
}

// "8:1,32:2" → [[8, 1], [32, 2]]: integer sizes ≥ 1 in increasing order, finite scales > 0.
function scaleBySize(value: string | undefined): [number, number][] | undefined {
  if (value === undefined) return undefined;
  const flag = "--edit-eta-scale-by-size";
  const pairs = value.split(",").map((item): [number, number] => {
    const parts = item.split(":");
    const [m, s] = parts.map((p) => (p.trim() === "" ? NaN : Number(p)));
    if (parts.length !== 2 || !Number.isInteger(m) || m < 1 || !(s > 0 && isFinite(s))) {
      throw new UsageError(
        `${flag} must be MAX_FACTS:SCALE pairs (an integer ≥ 1 and a number > 0), got "${value}"`,
      );
    }
    return [m, s];
  });
  if (pairs.some(([m], i) => i > 0 && m <= pairs[i - 1][0])) {
    throw new UsageError(`${flag}: the sizes must increase, got "${value}"`);
  }
  return pairs;
}

async function trainHyperEditor(v: Flags, name: "malmen" | "mend", data: DataSpec, seed: number) {
  const flag = (f: string) => v[f] as string | undefined;
  const keyPrior = num("key-prior", flag("key-prior"), 0, RANGES.weight);
  const editKeyPrior = optionalNum("edit-key-prior", flag("edit-key-prior"), RANGES.weight);
  const editEtaScale = num("edit-eta-scale", flag("edit-eta-scale"), 1, RANGES.positive);
  const editEtaScaleBySize = scaleBySize(flag("edit-eta-scale-by-size"));
  const editPasses = int("edit-passes", flag("edit-passes"), 1);
  const keyPositions = oneOf(
    "key-positions",
    flag("key-positions") ?? "answer",
    KEY_POSITIONS,
  );
  const edited = flag("layers-edited");
  const nEdits = int("n-edits", flag("n-edits"), 64);
  const steps = optionalNum("steps", flag("steps"), RANGES.count);
  const minutes = optionalNum("minutes", flag("minutes"), RANGES.positive);
  const maxSeconds = minutes === undefined ? undefined : minutes * 60;
  const settings = {
    metaLr: num("meta-lr", flag("meta-lr"), 1e-4, RANGES.lr),
    valEvery: int("val-every", flag("val-every"), 10),
    locCoef: num("loc-coef", flag("loc-coef"), 1, RANGES.weight),
  };
  const lm = lmFlag(flag("lm")!);
  // The data is read and checked first, then the runs and the output folder.
  const splits = data.kind === "world" ? "world" : await loadDataSplits(data);
  const lmConfig = await requireLmRun("lm", lm);
  const initFrom = flag("init-from");
  if (initFrom !== undefined) await requireEditorRun("init-from", initFrom);
  const out = flag("out") ?? `runs/${name}`;
  await refuseOverwrite(out, v);
  const layers = edited === undefined ? {} : { layers: intList("layers-edited", edited, 0) };
  const config = {
    ...defaultEditorConfig(lmConfig.nLayer),
    ...layers,
    seed,
    locCoef: settings.locCoef,
    editLoss: v["edit-loss"] as boolean,
    keyPrior,
    editKeyPrior,
    editEtaScale,
    editEtaScaleBySize,
    editPasses,
    keyPositions,
  };
  const usesPrior = keyPrior > 0 || (editKeyPrior ?? 0) > 0;
  const missing = config.layers.find((l) => l >= lmConfig.nLayer);
  if (missing !== undefined) {
    throw new UsageError(
      `--layers-edited: the LM has blocks 0 to ${lmConfig.nLayer - 1}, not ${missing}`,
    );
  }
  const backend = await pickBackend(flag("backend"));
  await requireOutput("out", out, editorRunBytes(lmConfig, config), "the checkpoints");
  const stop = stopOnSigint();
  const { model, tokenizer } = await loadLm(lm, backend);
  const facts = editorData(splits, tokenizer, model.config.nCtx, {
    keyPrior: usesPrior,
    resample: v.resample as boolean,
  });
  // With a time limit the bar counts seconds of the budget (steps would show a useless ETA
  // when --steps is only an upper bound).
  const timeBar = maxSeconds === undefined ? null : budgetBar(`train ${name}`, maxSeconds);
  const stepBar = new Progress({ label: `train ${name}`, total: 1 });
  const r = await trainEditor(model, facts.train, facts.val, {
    outDir: out,
    editor: name,
    config,
    initFrom,
    force: v.force as boolean,
    keyPriorFacts: usesPrior ? facts.keyPriorFacts : undefined,
    resample: facts.resample,
    nEdits,
    steps,
    metaLr: settings.metaLr,
    valEvery: settings.valEvery,
    maxSeconds,
    resume: v.resume as boolean,
    seed,
    stop,
    onStep: (i) => {
      const val = i.val ? ` val ES ${pct(i.val.es)} GS ${pct(i.val.gs)} LS ${pct(i.val.ls)}` : "";
      if (timeBar !== null) {
        return timeBar.update(`step ${i.step} meta-loss ${i.loss.toFixed(3)}${val}`);
      }
      stepBar.setTotal(i.total);
      stepBar.update(i.step, `meta-loss ${i.loss.toFixed(3)}${val}`);
    },
  });
  (timeBar ?? stepBar).finish(`${r.steps} steps`);
  if (v.json) {
    const { es, gs, ls } = r.val;
    console.log(JSON.stringify({
      train: name,
      steps: r.steps,
      es: r4(es),
      gs: r4(gs),
      ls: r4(ls),
      seconds: r4(r.seconds),
    }));
  } else {
    console.log(
      `Meta-trained ${name} for ${r.steps} steps in ${r.seconds.toFixed(0)} s. Validation (${
        Math.min(nEdits, facts.val.length)
      } facts): ES ${pct(r.val.es)}, GS ${pct(r.val.gs)}, LS ${
        pct(r.val.ls)
      }.\nEditor saved in ${out}/ (the checkpoint chosen on validation: best.json).`,
    );
  }
  r.editor.dispose();
  model.dispose();
}

// A second training into a folder that holds a run would silently replace it.
async function refuseOverwrite(out: string, v: Flags): Promise<void> {
  if (v.resume || v.overwrite) return;
  const latest = await latestCheckpoint(out).catch(() => null);
  if (latest !== null) {
    throw new UsageError(
      `--out "${out}" already holds a run (step ${latest.step}): pass --resume to continue it, ` +
        `--overwrite to train afresh over it, or choose another --out`,
    );
  }
}

async function setUpMemit(v: Flags, data: DataSpec) {
  const flag = (f: string) => v[f] as string | undefined;
  const lm = lmFlag(flag("lm")!);
  // The data is read and checked first, then the LM and the output folder.
  const splits = data.kind === "world" ? "world" : await loadDataSplits(data);
  const lmConfig = await requireLmRun("lm", lm);
  const out = flag("out") ?? "runs/memit";
  const saved = await Deno.stat(runPath(out, MEMIT_FILE)).then(() => true, () => false);
  if (saved && !v.resume && !v.overwrite) {
    throw new UsageError(
      `--out "${out}" already holds a MEMIT editor: pass --resume to reuse it, --overwrite to ` +
        `set it up afresh over it, or choose another --out`,
    );
  }
  const backend = await pickBackend(flag("backend"));
  await requireOutput("out", out, memitBytes(lmConfig), "the key covariances");
  const { model, tokenizer } = await loadLm(lm, backend);
  const facts = editorData(splits, tokenizer, model.config.nCtx, { keyPrior: true });
  const { editor, provenance: p } = await memitRun(model, {
    dir: out,
    texts: facts.keyPriorFacts.map((f) => [...f.prompt, ...f.answer]),
    val: facts.val,
    grid: memitGrid(model.config.nLayer),
    retrain: !v.resume,
    force: v.force as boolean,
    log: (m) => console.error(m),
  });
  const best = p.grid.reduce((a, g) => (g.selection > a.selection ? g : a), p.grid[0]);
  if (v.json) {
    const { es, gs, ls } = best.val;
    console.log(JSON.stringify({
      train: "memit",
      settings: p.settings,
      es: r4(es),
      gs: r4(gs),
      ls: r4(ls),
      seconds: r4(p.seconds),
    }));
  } else {
    console.log(
      `MEMIT set up in ${p.seconds.toFixed(0)} s: blocks ${
        p.settings.layers.join(", ")
      }, position ${p.settings.position}, λ ${p.settings.lambda}. Validation (${p.valFacts} facts): ES ${
        pct(best.val.es)
      }, GS ${pct(best.val.gs)}, LS ${pct(best.val.ls)}.\nEditor saved in ${out}/.`,
    );
  }
  editor.dispose();
  model.dispose();
}

// `deno task train`: trains the language model (default) or meta-trains an editor on top of it.
import { parseArgs } from "node:util";
import { linePlot } from "./_cli/svg.ts";
import { Progress } from "./_cli/progress.ts";
import { writeFileAtomic } from "../engine/io/atomic.ts";
import { loadCounterFactSplits } from "../malmen/data/data_raw.ts";
import { generateWorld, resampleRecords } from "../malmen/data/world.ts";
import { counterFactCorpus, encodeFact, worldCorpus } from "../malmen/lm/corpus.ts";
import { defaultEditorConfig } from "../malmen/editors/editor.ts";
import { loadLmRun } from "../malmen/lm/load.ts";
import { trainLm } from "../malmen/lm/train.ts";
import { counterFactSetup, DEMO_WORLD, modelConfigFor, worldSetup } from "../malmen/workflows.ts";
import { type EditRequest, toRequests } from "../malmen/eval/requests.ts";
import { trainEditor } from "../malmen/editors/train_editor.ts";
import { COMMON_OPTIONS, num, pickBackend, runCli, stopOnSigint } from "./_cli/common.ts";

const HELP = `Usage: deno task train [--editor lm|malmen|mend] [options]

Trains the GPT language model on the embedded synthetic world (default) or on CounterFact's
true facts, or meta-trains a MALMEN / MEND editor for a trained model.

Language model (--editor lm, the default):
  --data world|counterfact   training facts (default world)
  --out DIR                  run directory (default runs/lm)
  --minutes N                training time limit, resumed parts included (default 10)
  --epochs N                 epoch limit (default 200)
  --batch N                  sequences per step (default 64)
  --lr X                     peak learning rate (default 6e-3)
  --d-model N --layers N --heads N   model size (default 128, 4, 4)
  --d-inner N                FFN width = key width of the edited layers (default 4·d-model)
  --target X                 stop at this answer accuracy (default 0.995)
  On --data counterfact the context is 72 tokens, only answer tokens are trained (the
  output layer over its 20k-type vocabulary then runs on answer positions alone) and
  batches group texts of similar length.
Editor (--editor malmen or mend):
  --lm DIR                   trained LM run (default runs/lm)
  --data world|counterfact   facts to meta-train on (default world; counterfact reads
                             ../shared/data-raw/counterfact/counterfact-train.json)
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
  --resample                 world only: redraw targets, templates and locality probes of
                             the training facts every epoch
Common:
  --seed N  --resume  --json  --backend webgpu|cpu  --help

Ctrl-C stops after the current step and leaves a usable checkpoint; --resume continues.`;

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
      resample: { type: "boolean", default: false },
      seed: { type: "string" },
      resume: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      ...COMMON_OPTIONS,
    },
  });
  if (v.help) {
    console.log(HELP);
    return;
  }
  if (!["lm", "malmen", "mend"].includes(v.editor!)) {
    throw new TypeError(`--editor must be lm, malmen or mend, got "${v.editor}"`);
  }
  if (!["world", "counterfact"].includes(v.data!)) {
    throw new TypeError(`--data must be world or counterfact, got "${v.data}"`);
  }
  const backend = await pickBackend(v.backend);
  const stop = stopOnSigint();
  const seed = num("seed", v.seed, 0);

  if (v.editor === "lm") {
    const setup = v.data === "world"
      ? await worldSetup()
      : await counterFactSetup(await allCounterFact());
    const config = modelConfigFor(setup.tokenizer, {
      dModel: num("d-model", v["d-model"], 128),
      nLayer: num("layers", v.layers, 4),
      nHead: num("heads", v.heads, 4),
      ...(v["d-inner"] === undefined ? {} : { dInner: num("d-inner", v["d-inner"], 0) }),
      nCtx: v.data === "world" ? 32 : 72,
    });
    const counterFact = v.data === "counterfact";
    const out = v.out ?? "runs/lm";
    const maxSeconds = num("minutes", v.minutes, 10) * 60;
    // Training stops on accuracy or time, so the bar counts seconds of the budget.
    const bar = new Progress({ label: "train lm", total: Math.round(maxSeconds), unit: "s" });
    const started = performance.now();
    const r = await trainLm(setup.corpus, setup.tokenizer, {
      outDir: out,
      config,
      backend,
      seed,
      batchSize: num("batch", v.batch, 64),
      lr: num("lr", v.lr, 6e-3),
      maxEpochs: num("epochs", v.epochs, 200),
      maxSeconds,
      targetAccuracy: num("target", v.target, 0.995),
      lmWeight: counterFact ? 0 : 1,
      bucketByLength: counterFact,
      resume: v.resume,
      stop,
      onStep: (i) => {
        bar.update(
          (performance.now() - started) / 1000,
          `step ${i.step} epoch ${i.epoch + 1} loss ${i.loss.toFixed(3)}${
            Number.isNaN(i.accuracy) ? "" : ` acc ${(100 * i.accuracy).toFixed(1)}%`
          }`,
        );
      },
    });
    bar.finish(`answer acc ${(100 * r.answerAcc).toFixed(2)}%`);
    const svg = linePlot([{
      name: "loss",
      points: r.history.map((h) => [h.step, h.loss] as const),
    }], {
      title: "Language-model training loss",
      xLabel: "step",
      yLabel: "cross-entropy",
    });
    await writeFileAtomic(`${out}/loss.svg`, svg);
    const summary = {
      train: "lm",
      facts: r.facts,
      answer_acc: round(r.answerAcc),
      paraphrase_acc: round(r.paraphraseAcc),
      seconds: round(r.seconds),
    };
    if (v.json) console.log(JSON.stringify(summary));
    else {
      console.log(
        `Trained ${r.steps} steps in ${r.seconds.toFixed(0)} s: answer accuracy ${
          pct(r.answerAcc)
        } on ${r.facts} facts, paraphrase accuracy ${pct(r.paraphraseAcc)}${
          r.interrupted ? " (interrupted)" : ""
        }.\nCheckpoint, tokenizer and loss curve in ${out}/.`,
      );
    }
    r.model.dispose();
    return;
  }

  const editorName = v.editor as "malmen" | "mend";
  const { model, tokenizer } = await loadLmRun(v.lm!, backend);
  let trainRecords, valRecords, lmFacts;
  let resample: ((epoch: number) => EditRequest[]) | undefined;
  const keyPrior = num("key-prior", v["key-prior"], 0);
  if (v.data === "world") {
    const world = generateWorld(DEMO_WORLD);
    trainRecords = world.train;
    valRecords = world.val;
    lmFacts = worldCorpus(world).training;
    if (v.resample) {
      resample = (epoch) =>
        toRequests(tokenizer, resampleRecords(world, "train", epoch), model.config.nCtx);
    }
  } else {
    if (v.resample) throw new TypeError("--resample is only available with --data world");
    const splits = await loadCounterFactSplits();
    trainRecords = splits.train;
    valRecords = splits.val;
    // The key statistics need a sample of the LM's training texts, not all 60k.
    lmFacts = keyPrior > 0
      ? evenSample(counterFactCorpus(await allCounterFact(), true).training, 4096)
      : [];
  }
  const train = toRequests(tokenizer, trainRecords, model.config.nCtx);
  const val = toRequests(tokenizer, valRecords, model.config.nCtx);
  const nEdits = num("n-edits", v["n-edits"], 64);
  const out = v.out ?? `runs/${editorName}`;
  const maxSeconds = v.minutes === undefined ? undefined : num("minutes", v.minutes, 0) * 60;
  // With a time limit the bar counts seconds of the budget (steps would show a useless ETA
  // when --steps is only an upper bound).
  const bar = maxSeconds === undefined
    ? new Progress({ label: `train ${editorName}`, total: 1 })
    : new Progress({ label: `train ${editorName}`, total: Math.round(maxSeconds), unit: "s" });
  const r = await trainEditor(model, train, val, {
    outDir: out,
    editor: editorName,
    config: {
      ...defaultEditorConfig(model.config.nLayer),
      seed,
      locCoef: num("loc-coef", v["loc-coef"], 1),
      editLoss: v["edit-loss"],
      keyPrior,
    },
    initFrom: v["init-from"],
    keyPriorFacts: keyPrior > 0 ? lmFacts.map((f) => encodeFact(tokenizer, f)) : undefined,
    resample,
    nEdits,
    steps: v.steps === undefined ? undefined : num("steps", v.steps, 0),
    metaLr: num("meta-lr", v["meta-lr"], 1e-4),
    valEvery: num("val-every", v["val-every"], 10),
    maxSeconds,
    resume: v.resume,
    seed,
    stop,
    onStep: (i) => {
      const val = i.val ? ` val ES ${pct(i.val.es)} GS ${pct(i.val.gs)} LS ${pct(i.val.ls)}` : "";
      if (maxSeconds === undefined) {
        bar.setTotal(i.total);
        bar.update(i.step, `meta-loss ${i.loss.toFixed(3)}${val}`);
      } else {
        bar.update(
          Math.min(maxSeconds, i.seconds),
          `step ${i.step} meta-loss ${i.loss.toFixed(3)}${val}`,
        );
      }
    },
  });
  bar.finish(`${r.steps} steps`);
  const summary = {
    train: editorName,
    steps: r.steps,
    es: round(r.val.es),
    gs: round(r.val.gs),
    ls: round(r.val.ls),
    seconds: round(r.seconds),
  };
  if (v.json) console.log(JSON.stringify(summary));
  else {
    console.log(
      `Meta-trained ${editorName} for ${r.steps} steps in ${r.seconds.toFixed(0)} s. Validation (${
        Math.min(nEdits, val.length)
      } facts): ES ${pct(r.val.es)}, GS ${pct(r.val.gs)}, LS ${
        pct(r.val.ls)
      }.\nEditor saved in ${out}/.`,
    );
  }
  r.editor.dispose();
  model.dispose();
});

async function allCounterFact() {
  const splits = await loadCounterFactSplits();
  return [...splits.train, ...splits.val, ...splits.edit];
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

/** `count` items spread evenly over `items` (all of them when there are fewer). */
function evenSample<T>(items: readonly T[], count: number): T[] {
  if (items.length <= count) return [...items];
  return Array.from({ length: count }, (_, i) => items[Math.floor((i * items.length) / count)]);
}

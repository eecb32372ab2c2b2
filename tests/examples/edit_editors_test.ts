// `deno task edit` with every editor of the registry: MEMIT from its folder, FT with its flags,
// the same shuffle as the CounterFact report, one JSON line with every score; and the report's
// budget flags are checked before any work.
import { deepStrictEqual, ok } from "node:assert/strict";
import { CPU } from "../../engine/backend.ts";
import { gptConfig } from "../../engine/models/gpt/config.ts";
import { createRng } from "../../malmen/data/prng.ts";
import { toRequests } from "../../malmen/eval/requests.ts";
import { encodeFact } from "../../malmen/lm/corpus.ts";
import { trainLm } from "../../malmen/lm/train.ts";
import { memitRun } from "../../malmen/workflows/memit_run.ts";
import { EDITOR_NAMES, EDITORS } from "../../malmen/workflows/editors.ts";
import { tinyWorld } from "../malmen/_lm.ts";
import { runDeno } from "../_run.ts";

const run = (args: string[]) => runDeno(args);

Deno.test("the registry lists every editor once, MEMIT included", () => {
  deepStrictEqual(EDITOR_NAMES, ["malmen", "mend", "ft", "memit"]);
  deepStrictEqual(EDITORS.map((e) => e.needs), ["run", "run", "none", "memit"]);
});

Deno.test("`deno task edit --editor memit|ft --json` edits from a MEMIT folder and with FT's flags", async () => {
  const dir = await Deno.makeTempDir();
  const { world, corpus, tokenizer } = await tinyWorld();
  const lm = await trainLm(corpus, tokenizer, {
    outDir: `${dir}/lm`,
    config: gptConfig({
      vocabSize: tokenizer.vocabSize,
      nCtx: 24,
      dModel: 8,
      nLayer: 2,
      nHead: 2,
      layerNormEps: 1e-5,
    }),
    backend: CPU,
    maxEpochs: 1,
    maxSeconds: 1e9,
  });
  const texts = corpus.training.map((f) => {
    const p = encodeFact(tokenizer, f);
    return [...p.prompt, ...p.answer];
  });
  const memit = await memitRun(lm.model, {
    dir: `${dir}/memit`,
    texts,
    val: toRequests(tokenizer, world.val, 24),
    settings: { layers: [0, 1], position: "prompt", steps: 2 },
  });
  memit.editor.dispose();
  const lmIdentity = lm.identity;
  lm.model.dispose();
  const input = `${dir}/edits.json`;
  await Deno.writeTextFile(input, JSON.stringify(world.edit));
  const common = ["examples/edit.ts", "--input", input, "--lm", `${dir}/lm`, "--backend", "cpu"];
  const keys = [
    "entry",
    "editor",
    "m",
    "es",
    "gs",
    "ls",
    "efficacy",
    "paraphrase",
    "neighborhood",
    "score",
    "seconds",
    "excluded",
    "residual",
  ];
  const r = await run([
    ...common,
    "--editor",
    "memit",
    "--editor-dir",
    `${dir}/memit`,
    "--shuffle",
    "7",
    "--m",
    "3",
    "--out",
    `${dir}/out`,
    "--json",
  ]);
  ok(r.code === 0, r.err);
  const line = JSON.parse(r.out.trim().split("\n").at(-1)!);
  deepStrictEqual(Object.keys(line), keys);
  deepStrictEqual([line.entry, line.editor, line.m, line.excluded], [1, "memit", 3, 0]);
  deepStrictEqual(Object.keys(line.residual), ["block 0", "block 1"]);
  // The records edited are the first 3 of the list shuffled with the seed.
  const report = JSON.parse(await Deno.readTextFile(`${dir}/out/reports/000001-edit-1.json`));
  const want = createRng(7).shuffle([...world.edit]).slice(0, 3).map((x) => x.case_id);
  deepStrictEqual(report.requests.map((x: { case_id: number }) => x.case_id), want);
  // The journal entry records the LM the MEMIT editor was set up on.
  deepStrictEqual(report.entry.lm, lmIdentity);
  await Deno.stat(`${dir}/out/entries/000001.safetensors`);
  const ft = await run([
    ...common,
    "--editor",
    "ft",
    "--ft-lr",
    "0.1",
    "--ft-epochs",
    "1",
    "--m",
    "2",
    "--out",
    `${dir}/out-ft`,
    "--json",
  ]);
  ok(ft.code === 0, ft.err);
  const ftLine = JSON.parse(ft.out.trim().split("\n").at(-1)!);
  deepStrictEqual([ftLine.editor, ftLine.m, ftLine.residual], ["ft", 2, null]);
  // A MEND folder that holds no editor is named before anything is loaded, and so is a MEMIT
  // folder without a MEMIT editor.
  const wrong = await run([...common, "--editor", "mend", "--editor-dir", `${dir}/memit`]);
  ok(wrong.code === 2, wrong.err);
  ok(wrong.err.includes(`--editor-dir: "${dir}/memit" holds no trained editor`), wrong.err);
  const noMemit = await run([...common, "--editor", "memit", "--editor-dir", `${dir}/lm`]);
  ok(noMemit.code === 2, noMemit.err);
  ok(noMemit.err.includes(`--editor-dir: "${dir}/lm" holds no MEMIT editor`), noMemit.err);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`deno task edit` checks the editor and FT flags before loading anything", async () => {
  const base = ["examples/edit.ts", "--input", "missing.json", "--backend", "cpu"];
  const cases: [string[], string][] = [
    [["--editor", "rome"], '--editor must be malmen, mend, ft or memit, got "rome"'],
    [["--ft-lr", "0"], '--ft-lr must be a number > 0 and ≤ 1, got "0"'],
    [["--ft-epochs", "0"], '--ft-epochs must be an integer ≥ 1, got "0"'],
    [["--shuffle=-1"], '--shuffle must be an integer ≥ 0 and ≤ 4294967295, got "-1"'],
  ];
  for (const [flags, message] of cases) {
    const r = await run([...base, ...flags]);
    ok(r.code === 2, `${flags}: ${r.err}`);
    ok(r.err.includes(message), r.err);
  }
});

Deno.test("`deno task report` checks its budget flags before any work", async () => {
  const cases: [string[], string][] = [
    [["--lm-epochs", "0"], '--lm-epochs must be an integer ≥ 1, got "0"'],
    [["--meta-minutes=-2"], '--meta-minutes must be a number > 0, got "-2"'],
    [["--d-model", "30", "--heads", "4"], "--d-model 30 must be a multiple of --heads 4"],
  ];
  for (const [flags, message] of cases) {
    const r = await run(["bench/experiments/report.ts", ...flags]);
    ok(r.code === 2, `${flags}: ${r.err}`);
    ok(r.err.includes(message), r.err);
  }
});

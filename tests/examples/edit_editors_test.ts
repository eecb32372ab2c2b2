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

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

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
  lm.model.dispose();
  const input = `${dir}/edits.json`;
  await Deno.writeTextFile(input, JSON.stringify(world.edit));
  const common = ["examples/edit.ts", "--input", input, "--lm", `${dir}/lm`, "--backend", "cpu"];
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
    "seconds",
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
  deepStrictEqual([line.editor, line.m], ["memit", 3]);
  deepStrictEqual(Object.keys(line.residual), ["block 0", "block 1"]);
  // The records edited are the first 3 of the list shuffled with the seed.
  const report = JSON.parse(await Deno.readTextFile(`${dir}/out/report.json`));
  const want = createRng(7).shuffle([...world.edit]).slice(0, 3).map((x) => x.case_id);
  deepStrictEqual(report.requests.map((x: { case_id: number }) => x.case_id), want);
  await Deno.stat(`${dir}/out/journal.safetensors`);
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
  // A MALMEN folder that holds no editor is named.
  const wrong = await run([...common, "--editor", "mend", "--editor-dir", `${dir}/memit`]);
  ok(wrong.code === 1, wrong.err);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`deno task edit` checks the editor and FT flags before loading anything", async () => {
  const base = ["examples/edit.ts", "--input", "missing.json", "--backend", "cpu"];
  const cases: [string[], string][] = [
    [["--editor", "rome"], '--editor must be malmen, mend, ft or memit, got "rome"'],
    [["--ft-lr", "0"], '--ft-lr must be a number > 0, got "0"'],
    [["--ft-epochs", "0"], '--ft-epochs must be an integer ≥ 1, got "0"'],
    [["--shuffle=-1"], '--shuffle must be an integer ≥ 0, got "-1"'],
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

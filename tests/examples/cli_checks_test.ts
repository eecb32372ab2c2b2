// The CLIs check every number, input and output before any long work, and `deno task edit`
// keeps an append-only journal: each edit an entry, --revert and --apply as events.
import { deepStrictEqual, ok } from "node:assert/strict";
import { hostname } from "node:os";
import { CPU } from "../../engine/backend.ts";
import { LOCK_FILE } from "../../engine/io/lock.ts";
import { readSafetensorsHeader } from "../../engine/io/safetensors.ts";
import { trainLm } from "../../malmen/lm/train.ts";
import { tinyLmConfig, tinyWorld } from "../malmen/_lm.ts";
import { runDeno } from "../_run.ts";

const run = (args: string[]) => runDeno(args);

// Each case fails at once with exit 2 and this message (none trains, loads or hangs).
const USAGE_ERRORS: [string[], string][] = [
  [["examples/train.ts", "--batch", "0"], '--batch must be an integer ≥ 1 and ≤ 65536, got "0"'],
  [["examples/train.ts", "--batch=-8"], '--batch must be an integer ≥ 1 and ≤ 65536, got "-8"'],
  [["examples/train.ts", "--lr", "1e6"], '--lr must be a number > 0 and ≤ 1, got "1e6"'],
  [
    ["examples/train.ts", "--heads", "3"],
    "--heads must divide --d-model, got 3 heads for a width of 128",
  ],
  [
    ["examples/train.ts", "--editor", "malmen", "--n-edits=-5"],
    '--n-edits must be an integer ≥ 1, got "-5"',
  ],
  [
    ["examples/train.ts", "--editor", "malmen", "--key-positions", "subject"],
    '--key-positions must be answer, first or all, got "subject"',
  ],
  [
    ["examples/train.ts", "--editor", "malmen", "--edit-eta-scale-by-size", "8:1,4:2"],
    '--edit-eta-scale-by-size: the sizes must increase, got "8:1,4:2"',
  ],
  [
    ["examples/train.ts", "--editor", "malmen", "--edit-eta-scale-by-size", "8"],
    '--edit-eta-scale-by-size must be MAX_FACTS:SCALE pairs (an integer ≥ 1 and a number > 0), got "8"',
  ],
  [["examples/edit.ts", "--input", "x.json", "--m=-1"], '--m must be an integer ≥ 1, got "-1"'],
  [["examples/demo.ts", "--m", "0"], '--m must be an integer ≥ 1, got "0"'],
  [
    ["examples/generate.ts", "--prompt", "a", "--top-k", "2.5"],
    '--top-k must be an integer ≥ 1, got "2.5"',
  ],
  [["examples/train.ts", "--batch", "-8"], "Option '--batch' argument is ambiguous."],
];

Deno.test("every CLI refuses a number out of its range at once, naming the flag and the range", async () => {
  const results = await Promise.all(
    USAGE_ERRORS.map(([args]) => run([...args, "--backend", "cpu"])),
  );
  results.forEach((r, i) => {
    const [args, message] = USAGE_ERRORS[i];
    deepStrictEqual(r.code, 2, `${args.join(" ")}: ${r.err}`);
    ok(r.err.startsWith(`error: ${message}`), `${args.join(" ")}: ${r.err}`);
  });
});

// A tiny trained LM run and a few of its world's held-out facts, shared by the tests below.
const { world, corpus, tokenizer } = await tinyWorld();
const root = await Deno.makeTempDir();
const lmDir = `${root}/lm`;
const trained = await trainLm(corpus, tokenizer, {
  outDir: lmDir,
  config: tinyLmConfig(tokenizer),
  backend: CPU,
  batchSize: 32,
  maxEpochs: 1,
});
trained.model.dispose();
const input = `${root}/edits.json`;
await Deno.writeTextFile(input, JSON.stringify(world.edit.slice(0, 3)));
const edit = (out: string, ...more: string[]) =>
  run([
    "examples/edit.ts",
    "--lm",
    lmDir,
    "--editor",
    "ft",
    "--out",
    out,
    "--backend",
    "cpu",
    ...more,
  ]);

Deno.test("`deno task edit` rejects degenerate requests by index, or keeps them flagged with --allow-conflicts", async () => {
  const bad = `${root}/bad.json`;
  const [a, b] = world.edit;
  await Deno.writeTextFile(
    bad,
    JSON.stringify([a, { ...b, target_new: b.ground_truth }, { ...a, target_new: "Zorblat" }]),
  );
  const r = await run(["examples/edit.ts", "--input", bad, "--lm", `${root}/missing`]);
  deepStrictEqual(r.code, 1, r.err);
  ok(
    r.err.startsWith(
      `error: ${bad}: 3 edit requests cannot be measured (record 0: the target "${a.target_new}" ` +
        `conflicts with record 2's "Zorblat" for the same subject and prompt; record 1: the target ` +
        `"${b.ground_truth}" is already the answer; record 2:`,
    ),
    r.err,
  );
  const kept = await edit(`${root}/flagged`, "--input", bad, "--allow-conflicts", "--json");
  deepStrictEqual(kept.code, 0, kept.err);
  deepStrictEqual(JSON.parse(kept.out).excluded, 3);
});

Deno.test("`deno task edit` checks its output folder and lock before loading the LM", async () => {
  const file = `${root}/a-file`;
  await Deno.writeTextFile(file, "");
  const r = await edit(file, "--input", input);
  deepStrictEqual(r.code, 2, r.err);
  deepStrictEqual(r.err.trim(), `error: --out: "${file}" is not a folder`);
  const busy = `${root}/busy`;
  await Deno.mkdir(busy);
  const holder = { pid: Deno.pid, host: hostname(), since: "now", purpose: "editing" };
  await Deno.writeTextFile(`${busy}/${LOCK_FILE}`, JSON.stringify(holder));
  const locked = await edit(busy, "--input", input);
  deepStrictEqual(locked.code, 1, locked.err);
  ok(
    locked.err.startsWith(
      `error: "${busy}" is in use by another process (pid ${Deno.pid} on ${hostname()}, editing since now)`,
    ),
    locked.err,
  );
});

Deno.test("`deno task train` refuses to train over an existing run without --resume or --overwrite", async () => {
  const r = await run(["examples/train.ts", "--out", lmDir, "--backend", "cpu"]);
  deepStrictEqual(r.code, 2, r.err);
  deepStrictEqual(
    r.err.trim(),
    `error: --out "${lmDir}" already holds a run (step ${trained.steps}): pass --resume to ` +
      `continue it, --overwrite to train afresh over it, or choose another --out`,
  );
});

Deno.test("`deno task edit` appends journal entries, reverts and re-applies them by id, never overwriting", async () => {
  const out = `${root}/journal`;
  const first = await edit(out, "--input", input, "--json");
  deepStrictEqual(first.code, 0, first.err);
  deepStrictEqual(JSON.parse(first.out).entry, 1);
  const second = await edit(out, "--input", input, "--m", "2", "--write-model");
  deepStrictEqual(second.code, 0, second.err);
  ok(second.out.includes(`Journal entry 2 (edit) in ${out}; applied now: 1, 2.`), second.out);
  const reverted = await run(["examples/edit.ts", "--out", out, "--revert", "1"]);
  deepStrictEqual(reverted.out.trim(), `Reverted journal entry 1 of ${out}; applied now: 2.`);
  // Re-applied, scored on the records it was made from.
  const applied = await edit(out, "--apply", "1");
  deepStrictEqual(applied.code, 0, applied.err);
  ok(applied.out.includes(`Journal entry 1 (apply) in ${out}; applied now: 2, 1.`), applied.out);
  const names = (d: string) => [...Deno.readDirSync(`${out}/${d}`)].map((e) => e.name).sort();
  deepStrictEqual(names("entries"), ["000001.safetensors", "000002.safetensors"]);
  deepStrictEqual(names("log"), ["000001.json", "000002.json", "000003.json", "000004.json"]);
  deepStrictEqual(names("reports"), [
    "000001-edit-1.json",
    "000001-edit-1.md",
    "000002-edit-2.json",
    "000002-edit-2.md",
    "000004-apply-1.json",
    "000004-apply-1.md",
  ]);
  // The edited weights record the LM they were made from and the entries applied.
  const header = await readSafetensorsHeader(`${out}/models/000002-edit-2.safetensors`);
  deepStrictEqual(header.metadata.edited_from, trained.identity);
  deepStrictEqual(header.metadata.journal_entries, "1,2");
  const generated = await run([
    "examples/generate.ts",
    "--lm",
    lmDir,
    "--journal",
    out,
    "--prompt",
    world.edit[0].prompt,
    "--tokens",
    "2",
    "--backend",
    "cpu",
  ]);
  deepStrictEqual(generated.code, 0, generated.err);
  ok(generated.out.startsWith(world.edit[0].prompt));
});

Deno.test("`deno task report` never writes over results of other data", async () => {
  const results = `${root}/results`;
  await Deno.mkdir(results);
  await Deno.writeTextFile(
    `${results}/data.json`,
    JSON.stringify({ data: `sha256:${"0".repeat(64)}` }),
  );
  const r = await run([
    "bench/experiments/report.ts",
    "--quick",
    "--runs",
    `${root}/cf-runs`,
    "--results",
    results,
    "--backend",
    "cpu",
  ]);
  deepStrictEqual(r.code, 1, r.err);
  ok(
    r.err.startsWith(
      `error: "${results}" holds results of other data (${results}/data.json); this run's data is sha256:`,
    ),
    r.err,
  );
  ok(r.err.trim().endsWith(": write its report elsewhere with --results DIR"), r.err);
  ok(!(await Deno.stat(`${root}/cf-runs`).then(() => true, () => false)), "nothing was trained");
});

Deno.test({
  name: "the CLI tests' folder is removed",
  fn: async () => await Deno.remove(root, { recursive: true }),
});

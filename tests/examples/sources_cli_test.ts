// Data as files and GPT-2 directories through the CLIs: `deno task data world|fetch`, `--data`
// errors before any work, and an HF GPT-2 directory as --lm for edit, train and generate, with
// the edited model written back as an HF directory.
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { CPU } from "../../engine/backend.ts";
import { gptConfig } from "../../engine/models/gpt/config.ts";
import { GPT } from "../../engine/models/gpt/model.ts";
import { loadEditRecords } from "../../malmen/data/edit_records.ts";
import { generateWorld } from "../../malmen/data/world.ts";
import { foldShifts, readJournalEntry } from "../../malmen/editors/journal.ts";
import { Journal } from "../../malmen/editors/journal_log.ts";
import { loadLm, saveHfLm } from "../../malmen/lm/source.ts";
import { DEFAULT_WORLD } from "../../malmen/workflows/settings.ts";
import { tinyWorld } from "../malmen/_lm.ts";
import { withTempDir } from "../_files.ts";
import { runDeno } from "../_run.ts";

const run = (args: string[], env: Record<string, string> = {}) => runDeno(args, env);

Deno.test("`deno task data world` writes the demo world's edit facts, never over another file", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/facts.json`;
    const r = await run(["examples/data.ts", "world", "--split", "edit", "--out", out]);
    equal(r.code, 0, r.err);
    const want = generateWorld(DEFAULT_WORLD).edit;
    equal(r.out, `Wrote ${want.length} edit records of the world (seed 1) to ${out}.\n`);
    deepStrictEqual(await loadEditRecords(out), want);
    const again = await run(["examples/data.ts", "world", "--out", out]);
    ok(again.out.includes("already holds these"), again.out);
    const other = await run(["examples/data.ts", "world", "--seed", "2", "--out", out]);
    equal(other.code, 2);
    ok(other.err.includes(`${out} exists and differs: pass --force to replace it`), other.err);
    deepStrictEqual(await loadEditRecords(out), want);
    const all = await run([
      "examples/data.ts",
      "world",
      "--split",
      "all",
      "--out",
      `${dir}/a.jsonl`,
    ]);
    equal(all.code, 0, all.err);
    const world = generateWorld(DEFAULT_WORLD);
    deepStrictEqual(await loadEditRecords(`${dir}/a.jsonl`), [
      ...world.train,
      ...world.val,
      ...world.edit,
    ]);
  });
});

Deno.test("`deno task data` rejects unknown commands and data sets with usage errors", async () => {
  for (
    const [args, message] of [
      [["nope"], 'Unknown command "nope": use world or fetch'],
      [["fetch", "fever"], 'Unknown data set "fever": use counterfact or zsre'],
      [["fetch"], "Name a data set to fetch: counterfact or zsre"],
      [["world"], "--out FILE is required"],
      [
        ["world", "--split", "test", "--out", "x.json"],
        '--split must be train, val, edit or all, got "test"',
      ],
    ] as const
  ) {
    const r = await run(["examples/data.ts", ...args]);
    equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    ok(r.err.includes(message), r.err);
  }
});

Deno.test("`deno task data fetch` offline says how to place the files by hand", async () => {
  await withTempDir(async (dir) => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const base = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`;
    listener.close();
    const r = await run(["examples/data.ts", "fetch", "zsre", "--dir", dir, "--base-url", base]);
    equal(r.code, 1);
    ok(r.err.startsWith(`error: Cannot reach ${base}Jometeorie/KnowledgeSpread/`), r.err);
    ok(
      r.err.includes(`-> ${dir}/zsre/zsre_mend_train-1k.json (537970 bytes, sha256 e6259610`),
      r.err,
    );
    deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["zsre"]);
    deepStrictEqual([...Deno.readDirSync(`${dir}/zsre`)], []);
  });
});

Deno.test("`deno task train` names a bad --data file and record before starting any work", async () => {
  await withTempDir(async (dir) => {
    const missing = await run([
      "examples/train.ts",
      "--data",
      `${dir}/none.json`,
      "--backend",
      "cpu",
    ]);
    equal(missing.code, 1);
    ok(missing.err.includes(`--data "${dir}/none.json": no such file or folder`), missing.err);
    await Deno.writeTextFile(`${dir}/bad.jsonl`, '{"prompt": "A is", "target_new": "b"}\n');
    for (const editor of ["lm", "malmen"]) {
      const r = await run([
        "examples/train.ts",
        "--editor",
        editor,
        "--data",
        `${dir}/bad.jsonl`,
        "--backend",
        "cpu",
      ]);
      equal(r.code, 1);
      ok(r.err.includes(`${dir}/bad.jsonl: record 0: field "case_id"`), r.err);
    }
  });
});

Deno.test("an HF GPT-2 directory serves as --lm for train, edit and generate; edit writes one back", async () => {
  await withTempDir(async (dir) => {
    const { tokenizer, world } = await tinyWorld();
    const config = gptConfig({
      vocabSize: tokenizer.vocabSize,
      nCtx: 32,
      dModel: 16,
      nLayer: 2,
      nHead: 2,
      layerNormEps: 1e-5,
      tieWordEmbeddings: false,
    });
    const source = new GPT(config, { backend: CPU, seed: 3 });
    await saveHfLm(`${dir}/lm`, source, tokenizer);
    source.dispose();
    await Deno.writeTextFile(
      `${dir}/facts.json`,
      JSON.stringify([...world.train, ...world.val, ...world.edit]),
    );
    const lm = `hf:${dir}/lm`;
    const train = await run([
      "examples/train.ts",
      "--editor",
      "malmen",
      "--lm",
      lm,
      "--data",
      `${dir}/facts.json`,
      "--steps",
      "2",
      "--n-edits",
      "4",
      "--val-every",
      "1",
      "--backend",
      "cpu",
      "--out",
      `${dir}/malmen`,
    ]);
    equal(train.code, 0, train.err);
    const out = `${dir}/edit`;
    const edit = await run([
      "examples/edit.ts",
      "--input",
      `${dir}/facts.json`,
      "--m",
      "4",
      "--lm",
      lm,
      "--editor-dir",
      `${dir}/malmen`,
      "--write-model",
      "--format",
      "hf",
      "--out",
      out,
      "--backend",
      "cpu",
    ]);
    equal(edit.code, 0, edit.err);
    // Named after the journal event that made it: the first event, an edit of entry 1.
    const written = `${out}/models/000001-edit-1`;
    ok(
      edit.out.includes(`edited model: ${written}/ (use it with --lm hf:${written})`),
      edit.out,
    );
    // The written model is the LM with the journal's shifts folded in (float32 in the file),
    // and records, as the safetensors format does, the LM it was edited from.
    const base = await loadLm({ kind: "hf", dir: `${dir}/lm` }, CPU);
    const edited = await loadLm({ kind: "hf", dir: written }, CPU);
    deepStrictEqual(edited.tokenizer.toJSON(), tokenizer.toJSON());
    equal(edited.model.config.tieWordEmbeddings, false);
    const { extra } = JSON.parse(await Deno.readTextFile(`${written}/config.json`));
    equal(extra.edited_from, base.identity);
    equal(extra.journal_entries, "1");
    equal(extra.edited_by, "malmen");
    ok(edited.identity !== base.identity);
    const journal = await Journal.open(out);
    deepStrictEqual(journal.active, [1]);
    const { shifts } = await readJournalEntry(journal.entryPath(1), base.model);
    ok(shifts.size > 0);
    const unshifted = new Map(
      await Promise.all(
        [...base.model.parameters()].map(async ([n, p]) => [n, await p.toArray()] as const),
      ),
    );
    foldShifts(base.model, shifts);
    for (const [name, p] of edited.model.parameters()) {
      const got = await p.toArray();
      const want = await base.model.getParameter(name).toArray();
      if (name.endsWith("mlp.c_proj.weight") && shifts.has(Number(name.split(".")[1]))) {
        ok(got.some((x, i) => x !== unshifted.get(name)![i]), `${name} was edited`);
        ok(
          got.every((x, i) => Math.abs(x - want[i]) <= 1e-6 * Math.max(1, Math.abs(want[i]))),
          name,
        );
      } else deepStrictEqual(Array.from(got), Array.from(want), name);
    }
    for (const m of [base.model, edited.model]) m.dispose();
    for (const t of shifts.values()) t.dispose();
    const generate = (...args: string[]) =>
      run(["examples/generate.ts", ...args, "--tokens", "2", "--backend", "cpu"]);
    const prompt = world.edit[0].prompt;
    const gen = await generate("--lm", `hf:${written}`, "--prompt", prompt);
    equal(gen.code, 0, gen.err);
    ok(gen.out.startsWith(prompt), gen.out);
    // The HF LM with the journal's applied entries gives the written model's continuation.
    const journaled = await generate("--lm", lm, "--journal", out, "--prompt", prompt);
    equal(journaled.code, 0, journaled.err);
    equal(journaled.out, gen.out);
  });
});

Deno.test("`--lm hf:` without a directory and `--format` without `--write-model` are usage errors", async () => {
  const a = await run(["examples/generate.ts", "--lm", "hf:", "--prompt", "x", "--backend", "cpu"]);
  equal(a.code, 2);
  ok(a.err.includes('--lm "hf:" names no directory after "hf:"'), a.err);
  const b = await run([
    "examples/edit.ts",
    "--input",
    "x.json",
    "--format",
    "hf",
    "--backend",
    "cpu",
  ]);
  equal(b.code, 2);
  ok(b.err.includes("--format only applies with --write-model"), b.err);
});

Deno.test("`--lm hf:DIR` names the file an HF GPT-2 directory lacks before loading anything", async () => {
  await withTempDir(async (dir) => {
    const missing = (file: string) =>
      `error: --lm: "hf:${dir}" is not a Hugging Face GPT-2 directory: "${dir}/${file}" is ` +
      "missing (it needs config.json and model.safetensors)";
    const gen = ["examples/generate.ts", "--lm", `hf:${dir}`, "--prompt", "x", "--backend", "cpu"];
    const a = await run(gen);
    equal(a.code, 2);
    equal(a.err.trim(), missing("config.json"));
    await Deno.writeTextFile(`${dir}/config.json`, "{}");
    const b = await run(["examples/train.ts", "--editor", "malmen", ...gen.slice(1, 3)]);
    equal(b.code, 2);
    equal(b.err.trim(), missing("model.safetensors"));
    await Deno.writeTextFile(`${dir}/model.safetensors`, "");
    const c = await run(gen);
    equal(c.code, 2);
    ok(c.err.startsWith(`error: --lm: "${dir}/config.json" cannot be read: `), c.err);
    ok(c.err.includes('field "vocab_size" must be a number'), c.err);
  });
});

Deno.test("`deno task report --data` refuses a runs folder trained on other data", async () => {
  await withTempDir(async (dir) => {
    const { world } = await tinyWorld();
    await Deno.writeTextFile(`${dir}/facts.json`, JSON.stringify(world.edit));
    await Deno.mkdir(`${dir}/runs/lm`, { recursive: true });
    const r = await run([
      "bench/experiments/report.ts",
      "--data",
      `${dir}/facts.json`,
      "--runs",
      `${dir}/runs`,
      "--backend",
      "cpu",
    ]);
    equal(r.code, 1);
    ok(
      r.err.includes(
        `"${dir}/runs" holds runs trained on --data counterfact (no data.json: runs from ` +
          `before it was recorded are CounterFact's), not ${dir}/facts.json: name another ` +
          "--runs folder",
      ),
      r.err,
    );
    const world2 = await run(["bench/experiments/report.ts", "--data", "world"]);
    equal(world2.code, 2);
    ok(world2.err.includes("--data world is not accepted here"), world2.err);
    // The runs folder's data.json names the --data, the results folder's holds a hash: never one.
    const same = await run([
      "bench/experiments/report.ts",
      "--runs",
      `${dir}/runs`,
      "--results",
      `${dir}/runs/`,
    ]);
    equal(same.code, 2);
    equal(same.err.trim(), "error: --results must name another folder than --runs");
  });
});

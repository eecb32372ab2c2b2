// The CLIs answer --help, and bad input ends with one clear error line and a non-zero exit.
import { ok } from "node:assert/strict";
import { runDeno } from "../_run.ts";

const run = (args: string[]) => runDeno(args);

for (const cli of ["train", "edit", "demo", "generate", "data"]) {
  Deno.test(`\`deno task ${cli} --help\` prints usage, no warning, and exits 0`, async () => {
    const r = await run([`examples/${cli}.ts`, "--help"]);
    ok(r.code === 0, r.err);
    ok(r.out.startsWith(`Usage: deno task ${cli}`), r.out);
    // Nothing on stderr: no package build-script warning (the benchmark peers are not
    // installed by the everyday commands, see tests/dependencies_test.ts).
    ok(r.err === "", r.err);
  });
}

Deno.test("`deno task bench --help` lists the benchmarks", async () => {
  const r = await run(["bench/main.ts", "--help"]);
  ok(r.code === 0, r.err);
  for (const name of ["matmul", "train_step", "edit_quality", "edit_memory"]) {
    ok(r.out.includes(name), name);
  }
});

Deno.test("`deno task edit` names the record and field of a malformed input", async () => {
  const dir = await Deno.makeTempDir();
  const input = `${dir}/bad.json`;
  await Deno.writeTextFile(
    input,
    JSON.stringify([{
      case_id: 1,
      prompt: "The capital of Norvia is",
      subject: "Norvia",
      target_new: "",
      ground_truth: "Velan",
      rephrase_prompt: "Norvia's capital is",
      locality_prompt: "The capital of Ostra is",
      locality_ground_truth: "Kem",
    }]),
  );
  const r = await run([
    "examples/edit.ts",
    "--input",
    input,
    "--lm",
    `${dir}/missing`,
    "--backend",
    "cpu",
  ]);
  ok(r.code !== 0);
  ok(r.err.includes('record 0: field "target_new"'), r.err);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`deno task train` rejects an unknown editor by name", async () => {
  const r = await run(["examples/train.ts", "--editor", "rome", "--backend", "cpu"]);
  ok(r.code !== 0);
  ok(r.err.includes('--editor must be lm, malmen, mend or memit, got "rome"'), r.err);
});

Deno.test("`deno task edit` rejects a bad --passes before loading anything", async () => {
  const r = await run([
    "examples/edit.ts",
    "--input",
    "x.json",
    "--passes",
    "0",
    "--backend",
    "cpu",
  ]);
  ok(r.code !== 0);
  ok(r.err.includes('--passes must be an integer ≥ 1, got "0"'), r.err);
});

Deno.test("`deno task bench` names a missing run instead of training one", async () => {
  const dir = await Deno.makeTempDir();
  const r = await run(["bench/main.ts", "edit_quality", "--runs", dir, "--backend", "cpu"]);
  ok(r.code === 1, r.err);
  ok(r.err.includes(`No trained language model in "${dir}/lm"`), r.err);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("every program rejects an unknown backend with a usage error", async () => {
  for (const program of ["examples/demo.ts", "bench/main.ts", "bench/experiments/report.ts"]) {
    const r = await run([program, "--backend", "tpu"]);
    ok(r.code === 2, `${program}: ${r.err}`);
    ok(r.err.includes('Unknown backend "tpu"'), r.err);
  }
});

// Fault injection: training killed with SIGKILL in the middle of a checkpoint write resumes from
// the last complete checkpoint to exactly the result of an uninterrupted run; the killed writer's
// lock and temp files are cleaned up by the resuming one.
import { deepStrictEqual, ok } from "node:assert/strict";
import { CPU } from "../../../engine/backend.ts";
import { LOCK_FILE } from "../../../engine/io/lock.ts";
import { loadLmRun } from "../../../malmen/lm/load.ts";
import { latestCheckpoint } from "../../../malmen/lm/run_dir.ts";
import { trainLm } from "../../../malmen/lm/train.ts";
import { tinyLmConfig, tinyWorld } from "../_lm.ts";
import { killAfterLine, TRAIN_OPTIONS } from "./_kill.ts";

const { corpus, tokenizer } = await tinyWorld();

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) out.push(...(await files(`${dir}/${e.name}`)).map((n) => `${e.name}/${n}`));
    else out.push(e.name);
  }
  return out.sort();
}

Deno.test("kill -9 during a checkpoint write, then resume: same result as an uninterrupted run", async () => {
  const dir = await Deno.makeTempDir();
  const child = new URL("./_train_child.ts", import.meta.url).pathname;
  const printed = await killAfterLine([child, dir, "--pause-at-step", "4"], "paused");
  deepStrictEqual(printed.slice(0, 4), ["step 1", "step 2", "step 3", "step 4"]);
  // What the kill left: step 3 complete and latest; step 4 half written; the lock and a temp.
  deepStrictEqual((await latestCheckpoint(dir))?.step, 3);
  const left = await files(dir);
  ok(left.includes(LOCK_FILE), left.join(" "));
  ok(left.includes("checkpoints/step-0000004/model.safetensors"), left.join(" "));
  ok(!left.includes("checkpoints/step-0000004/optimizer.safetensors"), left.join(" "));
  ok(left.some((n) => /^checkpoints\/step-0000004\/\.optimizer\.safetensors\..*\.tmp$/.test(n)));
  const partial = await loadLmRun(dir, CPU);
  deepStrictEqual(partial.step, 3);
  partial.model.dispose();

  // The child checkpointed every step; here the usual cadence (a final checkpoint) will do.
  const options = {
    ...TRAIN_OPTIONS,
    checkpointEvery: 60,
    config: tinyLmConfig(tokenizer),
    backend: CPU,
  };
  const resumed = await trainLm(corpus, tokenizer, { ...options, outDir: dir, resume: true });
  const reference = await trainLm(corpus, tokenizer, {
    ...options,
    outDir: await Deno.makeTempDir(),
  });
  deepStrictEqual(resumed.steps, 7);
  deepStrictEqual(resumed.steps, reference.steps);
  // Checkpoints hold float32, so the resumed run matches to float32 precision.
  const a = resumed.history.map((h) => h.loss);
  const b = reference.history.map((h) => h.loss);
  deepStrictEqual(a.length, b.length);
  a.forEach((x, i) => ok(Math.abs(x - b[i]) < 1e-5, `point ${i}: ${x} vs ${b[i]}`));
  const after = await files(dir);
  ok(!after.includes(LOCK_FILE), "the lock is released");
  ok(!after.some((n) => n.endsWith(".tmp")), after.join(" "));
  for (const r of [resumed, reference]) r.model.dispose();
  await Deno.remove(dir, { recursive: true });
});

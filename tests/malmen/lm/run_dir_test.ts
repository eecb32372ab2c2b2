import { deepStrictEqual, rejects } from "node:assert/strict";
import {
  bestCheckpoint,
  latestCheckpoint,
  runPath,
  writeBestCheckpoint,
  writeCheckpoint,
} from "../../../malmen/lm/run_dir.ts";

async function folders(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(runPath(dir, "checkpoints"))) {
    if (e.isDirectory) names.push(e.name);
  }
  return names.sort();
}

const fill = (text: string) => (folder: string): Promise<void> =>
  Deno.writeTextFile(runPath(folder, "w.txt"), text);

Deno.test("`writeBestCheckpoint()` points best.json to the newest best and removes the previous one", async () => {
  const dir = await Deno.makeTempDir();
  deepStrictEqual(await bestCheckpoint(dir), null);
  const a = await writeBestCheckpoint(dir, 3, fill("a"));
  deepStrictEqual(await bestCheckpoint(dir), { folder: a, step: 3 });
  deepStrictEqual(a, runPath(dir, "checkpoints/best-0000003"));
  const b = await writeBestCheckpoint(dir, 12, fill("b"));
  deepStrictEqual(await bestCheckpoint(dir), { folder: b, step: 12 });
  deepStrictEqual(await Deno.readTextFile(runPath(b, "w.txt")), "b");
  deepStrictEqual(await folders(dir), ["best-0000012"]);
  // Rewriting the same step keeps its folder (and its new contents).
  await writeBestCheckpoint(dir, 12, fill("c"));
  deepStrictEqual(await Deno.readTextFile(runPath(b, "w.txt")), "c");
  deepStrictEqual(await folders(dir), ["best-0000012"]);
  // The latest pointer is separate and untouched.
  deepStrictEqual(await latestCheckpoint(dir), null);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`writeCheckpoint()` pruning keeps the best folder however many steps follow", async () => {
  const dir = await Deno.makeTempDir();
  await writeCheckpoint(dir, 1, fill("1"));
  const best = await writeBestCheckpoint(dir, 1, fill("best"));
  for (let s = 2; s <= 6; s++) await writeCheckpoint(dir, s, fill(String(s)));
  deepStrictEqual(await folders(dir), ["best-0000001", "step-0000005", "step-0000006"]);
  deepStrictEqual(await bestCheckpoint(dir), { folder: best, step: 1 });
  deepStrictEqual(await Deno.readTextFile(runPath(best, "w.txt")), "best");
  deepStrictEqual((await latestCheckpoint(dir))?.step, 6);
  // A newer best replaces the old one; pruning with keep 1 still spares it.
  const next = await writeBestCheckpoint(dir, 6, fill("best6"));
  await writeCheckpoint(dir, 7, fill("7"), 1);
  deepStrictEqual(await folders(dir), ["best-0000006", "step-0000007"]);
  deepStrictEqual(await bestCheckpoint(dir), { folder: next, step: 6 });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`bestCheckpoint()` explains a malformed best.json", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(runPath(dir, "best.json"), "{");
  await rejects(() => bestCheckpoint(dir), /best\.json: invalid JSON/);
  await Deno.writeTextFile(runPath(dir, "best.json"), '{"step": 1}');
  await rejects(() => bestCheckpoint(dir), /best\.json: fields "checkpoint" and "step"/);
  await Deno.remove(dir, { recursive: true });
});

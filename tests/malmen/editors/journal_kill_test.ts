// Fault injection: a journal writer killed with SIGKILL while committing an edit leaves the
// committed entries intact and readable; the next writer takes over the lock, removes the
// uncommitted entry and the temp files, and appends the next entry.
import { deepStrictEqual, ok } from "node:assert/strict";
import { LOCK_FILE } from "../../../engine/io/lock.ts";
import { Journal } from "../../../malmen/editors/journal_log.ts";
import { killAfterLine } from "../lm/_kill.ts";
import { frozenLm } from "../_lm.ts";
import { KILLED_INFO, killedEdit } from "./_journal_kill.ts";

const child = new URL("./_journal_child.ts", import.meta.url).pathname;

async function files(dir: string, sub: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(`${dir}/${sub}`))).map((e) => e.name).sort();
}

for (const where of ["entry", "event"] as const) {
  Deno.test(`kill -9 while committing a journal edit (before its ${where} is in place), then resume`, async () => {
    const dir = await Deno.makeTempDir();
    const printed = await killAfterLine([child, dir, "--pause-at", where], "paused");
    deepStrictEqual(printed, ["entry 1", "entry 2", "entry 3", "paused"]);
    const entries = await files(dir, "entries");
    const log = await files(dir, "log");
    ok((await files(dir, ".")).includes(LOCK_FILE), "the killed writer's lock is left");
    // The edit being committed left a temp file, and (killed before its event) its entry file.
    ok([...entries, ...log].some((n) => n.endsWith(".tmp")), [...entries, ...log].join(" "));
    deepStrictEqual(entries.includes("000004.safetensors"), where === "event");
    // A reader sees the three committed edits only.
    const lm = frozenLm(11);
    const reader = await Journal.open(dir);
    deepStrictEqual(reader.entries.map((e) => e.id), [1, 2, 3]);
    // The next writer cleans up and appends edit 4; every entry reads back value by value.
    const writer = await Journal.open(dir, { write: true });
    deepStrictEqual(await files(dir, "entries"), [1, 2, 3].map((i) => `00000${i}.safetensors`));
    deepStrictEqual(await files(dir, "log"), [1, 2, 3].map((i) => `00000${i}.json`));
    deepStrictEqual((await writer.addEdit(killedEdit(4), KILLED_INFO)).id, 4);
    await writer.close();
    for (const id of [1, 2, 3, 4]) {
      const read = await writer.readShifts(id, lm);
      for (const [layer, t] of killedEdit(id)) {
        const want = Array.from(Float32Array.from(await t.toArray()));
        deepStrictEqual(
          Array.from(await read.get(layer)!.toArray()),
          want,
          `entry ${id} layer ${layer}`,
        );
        t.dispose();
      }
      for (const t of read.values()) t.dispose();
    }
    ok(!(await files(dir, ".")).includes(LOCK_FILE));
    lm.dispose();
    await Deno.remove(dir, { recursive: true });
  });
}

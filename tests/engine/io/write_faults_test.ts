// What goes wrong around writes: an OS error names its file, an append-only write never
// replaces, temp files of killed writers are swept, a second writer is stopped by the lock, and
// an unwritable or full output folder is reported before any work.
import { deepStrictEqual, ok, rejects } from "node:assert/strict";
import { hostname } from "node:os";
import { join } from "node:path";
import {
  processAlive,
  removeStaleTemps,
  writeFileAtomic,
  writeJsonAtomicSync,
} from "../../../engine/io/atomic.ts";
import { LOCK_FILE, lockDir, LockedError } from "../../../engine/io/lock.ts";
import { checkOutputDir, formatBytes } from "../../../engine/io/output_dir.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

// The pid of a process that has exited.
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("a full disk during an atomic write names the file and leaves no temp", async () => {
  await withDir(async (dir) => {
    const target = join(dir, "journal.safetensors");
    const open = Deno.open;
    // The device fills up on the first write: the OS error says nothing of the file.
    Object.assign(Deno, {
      open: async (path: string | URL, options?: Deno.OpenOptions) => {
        const file = await open(path, options);
        return Object.assign(Object.create(file), {
          write: () => {
            throw Object.assign(new Error("No space left on device (os error 28)"), {
              code: "ENOSPC",
            });
          },
          close: () => file.close(),
        });
      },
    });
    try {
      await rejects(() => writeFileAtomic(target, "data"), (e: Error & { code?: string }) => {
        deepStrictEqual(
          e.message,
          `Cannot write "${target}": No space left on device (os error 28)`,
        );
        deepStrictEqual(e.code, "ENOSPC");
        return true;
      });
    } finally {
      Object.assign(Deno, { open });
    }
    deepStrictEqual(names(dir), []);
  });
});

Deno.test("`createNew` never replaces a file", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "000001.json");
    await writeFileAtomic(path, "first", { createNew: true });
    await rejects(
      () => writeFileAtomic(path, "second", { createNew: true }),
      (e: Error) => e instanceof Deno.errors.AlreadyExists && e.message.includes(path),
    );
    let threw = false;
    try {
      writeJsonAtomicSync(path, { x: 1 }, { createNew: true });
    } catch (e) {
      threw = e instanceof Deno.errors.AlreadyExists;
    }
    ok(threw, "the sync writer refuses too");
    deepStrictEqual(await Deno.readTextFile(path), "first");
    deepStrictEqual(names(dir), ["000001.json"]);
  });
});

Deno.test("`removeStaleTemps()` removes the temps of dead writers, keeps live ones and the rest", async () => {
  await withDir(async (dir) => {
    const dead = (await deadPid()).toString(36);
    const live = Deno.pid.toString(36);
    await Deno.mkdir(join(dir, "checkpoints/step-1"), { recursive: true });
    const files = {
      dead: join(dir, `.model.safetensors.${dead}-abc123.tmp`),
      deep: join(dir, `checkpoints/step-1/.state.json.${dead}-x9.tmp`),
      old: join(dir, ".latest.json.k2j4h5g6f7.tmp"),
      live: join(dir, `.report.json.${live}-zz.tmp`),
      data: join(dir, "model.safetensors"),
      other: join(dir, "notes.tmp"),
    };
    for (const p of Object.values(files)) await Deno.writeTextFile(p, "x");
    ok(!processAlive(parseInt(dead, 36)) && processAlive(Deno.pid));
    const removed = await removeStaleTemps(dir);
    deepStrictEqual(removed.sort(), [files.dead, files.deep, files.old].sort());
    deepStrictEqual(names(dir), [
      `.report.json.${live}-zz.tmp`,
      "checkpoints",
      "model.safetensors",
      "notes.tmp",
    ]);
    deepStrictEqual(await removeStaleTemps(join(dir, "missing")), []);
  });
});

Deno.test("a second writer of a folder is stopped with the holder named; a dead holder's lock is taken over", async () => {
  await withDir(async (dir) => {
    const lock = await lockDir(dir, "training a language model");
    await rejects(() => lockDir(dir, "editing"), (e: Error) => {
      ok(e instanceof LockedError);
      ok(
        e.message.startsWith(
          `"${dir}" is in use by another process (pid ${Deno.pid} on ${hostname()}, training a language model since `,
        ),
        e.message,
      );
      ok(
        e.message.endsWith(`If no such process is running any more, remove "${dir}/${LOCK_FILE}".`),
      );
      return true;
    });
    await lock.release();
    await lock.release();
    // A writer killed with its lock held: the next one takes it.
    const pid = await deadPid();
    await Deno.writeTextFile(
      join(dir, LOCK_FILE),
      JSON.stringify({ pid, host: hostname(), since: "then", purpose: "editing" }),
    );
    const again = await lockDir(dir, "editing");
    deepStrictEqual(JSON.parse(await Deno.readTextFile(again.path)).pid, Deno.pid);
    await again.release();
    deepStrictEqual(names(dir), []);
    // Another host's lock cannot be judged from here: it stays.
    await Deno.writeTextFile(
      join(dir, LOCK_FILE),
      JSON.stringify({ pid, host: "elsewhere", since: "then", purpose: "editing" }),
    );
    await rejects(() => lockDir(dir, "editing"), /pid \d+ on elsewhere, editing since then/);
  });
});

Deno.test("`checkOutputDir()` reports a folder that cannot be created or lacks room, naming it", async () => {
  await withDir(async (dir) => {
    const file = join(dir, "a-file");
    await Deno.writeTextFile(file, "");
    await rejects(
      () => checkOutputDir(join(file, "out"), 0),
      (e: Error) => e.message.startsWith(`Cannot create the output folder "${file}/out": `),
    );
    await rejects(
      () => checkOutputDir(join(dir, "out"), 2 ** 62, "the checkpoints"),
      (e: Error) => {
        ok(
          /^Not enough space in ".*\/out" for the checkpoints: about [\d.]+ GB needed, [\d.]+ [kMG]?B free$/
            .test(e.message),
          e.message,
        );
        return true;
      },
    );
    await checkOutputDir(join(dir, "out"), 1024);
    deepStrictEqual(names(join(dir, "out")), [], "the write probe is removed");
    if (Deno.uid() !== 0) {
      // A read-only folder (root writes anywhere, so this is checked only as a normal user).
      await Deno.chmod(join(dir, "out"), 0o555);
      await rejects(
        () => checkOutputDir(join(dir, "out"), 0),
        (e: Error) => e.message.startsWith(`Cannot write into the output folder "${dir}/out": `),
      );
      await Deno.chmod(join(dir, "out"), 0o755);
    }
  });
  deepStrictEqual(
    [512, 3400, 3.4e6, 1.2e9].map(formatBytes),
    ["512 B", "3.4 kB", "3.4 MB", "1.20 GB"],
  );
});

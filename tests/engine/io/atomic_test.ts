import assert from "node:assert/strict";
import { join } from "node:path";
import {
  writeFileAtomic,
  writeFileAtomicSync,
  writeJsonAtomic,
  writeJsonAtomicSync,
} from "../../../engine/io/atomic.ts";
import { assertRejectsWith, assertThrowsWith, listDir } from "./_helpers.ts";

const isWindows = Deno.build.os === "windows";

async function withTempDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "atomic_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("`writeFileAtomic()` writes bytes, strings and chunk iterables", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "out.bin");
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    assert.deepEqual(await Deno.readFile(path), new Uint8Array([1, 2, 3]));
    await writeFileAtomic(path, "héllo");
    assert.equal(await Deno.readTextFile(path), "héllo");
    await writeFileAtomic(path, ["a", new Uint8Array([0x62]), "c"]);
    assert.equal(await Deno.readTextFile(path), "abc");
    await writeFileAtomic(
      path,
      (async function* () {
        yield "x";
        await new Promise((resolve) => setTimeout(resolve, 1));
        yield new Uint8Array([0x79]);
      })(),
    );
    assert.equal(await Deno.readTextFile(path), "xy");
    await writeFileAtomic(path, new Uint8Array());
    assert.equal((await Deno.stat(path)).size, 0);
    assert.deepEqual(listDir(dir), ["out.bin"]);
  });
});

Deno.test("`writeFileAtomic()` creates missing parent directories", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a", "b", "c.txt");
    await writeFileAtomic(path, "deep");
    assert.equal(await Deno.readTextFile(path), "deep");
    assert.deepEqual(listDir(join(dir, "a", "b")), ["c.txt"]);
  });
});

Deno.test("`writeFileAtomic()` keeps the old file and removes the temp when the producer throws", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "ckpt.bin");
    await Deno.writeTextFile(path, "old contents");
    const failure = new Error("producer failed");
    const rejected = await assertRejectsWith(
      () =>
        writeFileAtomic(
          path,
          (function* () {
            yield "new contents, partially written";
            throw failure;
          })(),
        ),
      Error,
      "producer failed",
    );
    assert.equal(rejected, failure);
    assert.equal(await Deno.readTextFile(path), "old contents");
    assert.deepEqual(listDir(dir), ["ckpt.bin"]);

    await assertRejectsWith(
      () =>
        writeFileAtomic(
          path,
          (async function* () {
            yield new Uint8Array(1 << 16);
            await Promise.resolve();
            throw new RangeError("async producer failed");
          })(),
        ),
      RangeError,
      "async producer failed",
    );
    assert.equal(await Deno.readTextFile(path), "old contents");
    assert.deepEqual(listDir(dir), ["ckpt.bin"]);
  });
});

Deno.test("`writeFileAtomic()` rejects chunks that are not bytes or strings and cleans up", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "x.bin");
    await assertRejectsWith(
      () => writeFileAtomic(path, [new Uint16Array(2)] as unknown as Uint8Array[]),
      TypeError,
      `Cannot write chunk of type "object"`,
    );
    await assertRejectsWith(
      () => writeFileAtomic(path, 42 as unknown as string),
      TypeError,
      `Cannot write chunk of type "number"`,
    );
    assert.deepEqual(listDir(dir), []);
  });
});

Deno.test("`writeFileAtomic()` removes the temp file when the final rename fails", async () => {
  await withTempDir(async (dir) => {
    // Renaming a file over a non-empty directory fails on every platform.
    const path = join(dir, "target");
    await Deno.mkdir(path);
    await Deno.writeTextFile(join(path, "keep.txt"), "kept");
    await assert.rejects(() => writeFileAtomic(path, "data"));
    assert.deepEqual(listDir(dir), ["target"]);
    assert.equal(await Deno.readTextFile(join(path, "keep.txt")), "kept");
    assert.throws(() => writeFileAtomicSync(path, "data"));
    assert.deepEqual(listDir(dir), ["target"]);
  });
});

Deno.test({
  name: "`writeFileAtomic()` fails without a temp file when the directory is read-only",
  ignore: isWindows || Deno.uid() === 0, // Root ignores permission bits.
  fn: async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, "ro", "file.txt");
      await writeFileAtomic(path, "old");
      await Deno.chmod(join(dir, "ro"), 0o555);
      try {
        await assert.rejects(() => writeFileAtomic(path, "new"), Deno.errors.PermissionDenied);
        assert.equal(await Deno.readTextFile(path), "old");
        assert.deepEqual(listDir(join(dir, "ro")), ["file.txt"]);
      } finally {
        await Deno.chmod(join(dir, "ro"), 0o755);
      }
    });
  },
});

Deno.test({
  name: "`writeFileAtomic()` keeps an existing file's mode and applies an explicit one",
  ignore: isWindows,
  fn: async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, "secret.txt");
      await Deno.writeTextFile(path, "old");
      await Deno.chmod(path, 0o600);
      await writeFileAtomic(path, "new");
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
      await writeFileAtomic(path, "newer", { mode: 0o640 });
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);
      writeFileAtomicSync(path, "newest");
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);
    });
  },
});

Deno.test({
  name: "`writeFileAtomic()` replaces a symlink's target and keeps the link",
  ignore: isWindows,
  fn: async () => {
    await withTempDir(async (dir) => {
      const real = join(dir, "real.txt");
      const link = join(dir, "latest.txt");
      await Deno.writeTextFile(real, "v1");
      await Deno.symlink(real, link);
      await writeFileAtomic(link, "v2");
      assert.ok((await Deno.lstat(link)).isSymlink);
      assert.equal(await Deno.readTextFile(real), "v2");
      assert.deepEqual(listDir(dir), ["latest.txt", "real.txt"]);
    });
  },
});

Deno.test({
  name: "`writeFileAtomic()` leaves the old file intact when the process is interrupted mid-write",
  ignore: isWindows,
  fn: async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, "ckpt.bin");
      await Deno.writeTextFile(path, "old checkpoint");
      const script = join(dir, "writer.ts");
      const moduleUrl = new URL("../../../engine/io/atomic.ts", import.meta.url).href;
      await Deno.writeTextFile(
        script,
        `import { writeFileAtomic } from ${JSON.stringify(moduleUrl)};
        await writeFileAtomic(${JSON.stringify(path)}, (async function* () {
          for (let i = 0; ; i++) {
            yield new Uint8Array(4096).fill(i);
            if (i === 0) console.log("started");
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        })());`,
      );
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-config", script],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      while (!seen.includes("started")) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += value;
      }
      assert.ok(seen.includes("started"), "the writer should have started");
      child.kill("SIGINT"); // What Ctrl-C sends.
      await reader.cancel();
      const status = await child.status;
      assert.ok(!status.success);
      assert.equal(await Deno.readTextFile(path), "old checkpoint");
      // The interrupted write may leave its temp file, never a partial target.
      for (const name of listDir(dir)) {
        assert.ok(["ckpt.bin", "writer.ts"].includes(name) || /^\.ckpt\.bin\..+\.tmp$/.test(name));
      }
    });
  },
});

Deno.test("`writeFileAtomicSync()` writes and cleans up like the async version", async () => {
  await withTempDir((dir) => {
    const path = join(dir, "nested", "s.txt");
    writeFileAtomicSync(path, "one");
    writeFileAtomicSync(path, ["t", new Uint8Array([0x77]), "o"], { fsync: false });
    assert.equal(Deno.readTextFileSync(path), "two");
    assert.throws(
      () =>
        writeFileAtomicSync(
          path,
          (function* () {
            yield "three";
            throw new Error("sync producer failed");
          })(),
        ),
      /sync producer failed/,
    );
    assert.equal(Deno.readTextFileSync(path), "two");
    assert.deepEqual(listDir(join(dir, "nested")), ["s.txt"]);
  });
});

Deno.test("`writeJsonAtomic()` writes indented JSON with a trailing newline", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "m.json");
    await writeJsonAtomic(path, { step: 1, loss: [2.5] });
    assert.equal(await Deno.readTextFile(path), '{\n  "step": 1,\n  "loss": [\n    2.5\n  ]\n}\n');
    writeJsonAtomicSync(path, { a: 1 }, { indent: 0 });
    assert.equal(await Deno.readTextFile(path), '{"a":1}\n');
  });
});

Deno.test("`writeJsonAtomic()` leaves the old file untouched when the value cannot be serialized", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "m.json");
    await writeJsonAtomic(path, { ok: true });
    await assertRejectsWith(() => writeJsonAtomic(path, undefined), TypeError, `"undefined"`);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assertRejectsWith(() => writeJsonAtomic(path, cyclic), TypeError);
    assertThrowsWith(() => writeJsonAtomicSync(path, { n: 1n }), TypeError);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), { ok: true });
    assert.deepEqual(listDir(dir), ["m.json"]);
  });
});

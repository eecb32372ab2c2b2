// The platform module: Deno's implementation reads, lists and writes files and says NotFound by
// name; the browser's reads the same files over fetch (a checkpoint loads through it to the same
// model) and refuses writes; `setPlatform` switches what the engine uses; and nothing in engine/
// or malmen/ but the Deno implementation calls `Deno.*`.
import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { CPU } from "../../../engine/backend.ts";
import { noGrad } from "../../../engine/autograd.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import { gptConfig } from "../../../engine/models/gpt/config.ts";
import { GPT } from "../../../engine/models/gpt/model.ts";
import { saveModule } from "../../../engine/nn/checkpoint.ts";
import { readSafetensors } from "../../../engine/io/safetensors.ts";
import {
  browserPlatform,
  denoPlatform,
  isAlreadyExists,
  isNotFound,
  platform,
  setPlatform,
} from "../../../engine/platform/mod.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "platform_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// Serves `dir` read-only, as the web app serves run folders.
async function withServer(dir: string, fn: (base: string) => Promise<void>): Promise<void> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
    const path = new URL(r.url).pathname;
    if (path.endsWith("/locked")) return new Response("no", { status: 403 });
    try {
      return new Response(await Deno.readFile(`${dir}${path}`));
    } catch {
      return new Response("missing", { status: 404 });
    }
  });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}/`);
  } finally {
    await server.shutdown();
  }
}

Deno.test("the default platform in Deno is Deno's", () => {
  strictEqual(platform(), denoPlatform);
  strictEqual(platform().name, "deno");
});

Deno.test("Deno's platform reads whole files and at offsets, lists, removes, and names a missing file NotFound", async () => {
  await withDir(async (dir) => {
    const p = denoPlatform;
    await p.mkdir(`${dir}/a/b`);
    await p.writeFileAtomic(`${dir}/a/b/x.bin`, new Uint8Array([1, 2, 3, 4, 5]));
    p.writeFileAtomicSync(`${dir}/a/t.txt`, "héllo");
    deepStrictEqual(await p.readFile(`${dir}/a/b/x.bin`), new Uint8Array([1, 2, 3, 4, 5]));
    strictEqual(await p.readTextFile(`${dir}/a/t.txt`), "héllo");
    {
      using f = await p.openFile(`${dir}/a/b/x.bin`);
      strictEqual(f.size, 5);
      const buf = new Uint8Array(3);
      strictEqual(await f.read(3, buf), 2, "a read past the end is short");
      deepStrictEqual(buf.subarray(0, 2), new Uint8Array([4, 5]));
    }
    const names = (await p.listDir(`${dir}/a`)).map((e) => `${e.name}:${e.isDirectory}`).sort();
    deepStrictEqual(names, ["b:true", "t.txt:false"]);
    await p.remove(`${dir}/a/b`);
    const missing = await p.readFile(`${dir}/a/b/x.bin`).catch((e) => e);
    ok(isNotFound(missing), String(missing));
    ok(!isNotFound(new Error("other")));
    strictEqual(p.env("MALMEN_PLATFORM_TEST_UNSET"), undefined);
    ok(p.peakRssBytes() > 0);
  });
});

Deno.test("Deno's platform stats, appends, renames, writes once with createNew, names files in OS errors, and knows its process", async () => {
  await withDir(async (dir) => {
    const p = denoPlatform;
    {
      using f = await p.openWrite(`${dir}/part`, false);
      await f.write(new Uint8Array([1, 2]));
    }
    {
      using f = await p.openWrite(`${dir}/part`, true);
      await f.write(new Uint8Array([3]));
    }
    deepStrictEqual(await p.stat(`${dir}/part`), { isFile: true, isDirectory: false, size: 3 });
    await p.rename(`${dir}/part`, `${dir}/whole`);
    deepStrictEqual(await p.readFile(`${dir}/whole`), new Uint8Array([1, 2, 3]));
    ok(isNotFound(await p.stat(`${dir}/part`).catch((e) => e)));
    {
      using f = await p.openWrite(`${dir}/whole`, false);
      await f.write(new Uint8Array([9]));
    }
    deepStrictEqual(await p.readFile(`${dir}/whole`), new Uint8Array([9]), "truncated");
    await p.writeFileAtomic(`${dir}/once`, "a", { createNew: true });
    const again = await p.writeFileAtomic(`${dir}/once`, "b", { createNew: true }).catch((e) => e);
    ok(isAlreadyExists(again) && again.message.includes(`${dir}/once`), String(again));
    strictEqual(await p.readTextFile(`${dir}/once`), "a");
    deepStrictEqual(
      (await p.listDir(dir)).map((e) => `${e.name}:${e.isFile}`).sort(),
      ["once:true", "whole:true"],
    );
    const os = Object.assign(new Error("No space left on device (os error 28)"), {
      code: "ENOSPC",
    });
    const named = p.namingFile(os, `${dir}/x`, "write") as Error & { code: string };
    deepStrictEqual([named.message, named.code], [
      `Cannot write "${dir}/x": No space left on device (os error 28)`,
      "ENOSPC",
    ]);
    const own = new TypeError("not an OS error");
    strictEqual(p.namingFile(own, `${dir}/x`, "write"), own);
    deepStrictEqual([p.pid, p.processAlive(p.pid), p.hostname().length > 0], [
      Deno.pid,
      true,
      true,
    ]);
  });
});

Deno.test("nothing in engine/ or malmen/ but Deno's platform calls Deno.*", async () => {
  const root = new URL("../../../", import.meta.url);
  const offenders: string[] = [];
  let scanned = 0;
  const walk = async (dir: string): Promise<void> => {
    for await (const e of Deno.readDir(new URL(dir, root))) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (e.name.endsWith(".ts") && !/^engine\/platform\/deno(_atomic)?\.ts$/.test(path)) {
        scanned++;
        // Comments may name Deno's APIs; code may not.
        const code = (await Deno.readTextFile(new URL(path, root)))
          .replace(/\/\*[\s\S]*?\*\//g, "")
          .replace(/^\s*\/\/.*$/gm, "");
        const lines = code.split("\n").filter((l) => /\bDeno\./.test(l));
        offenders.push(...lines.map((l) => `${path}: ${l.trim()}`));
      }
    }
  };
  await walk("engine");
  await walk("malmen");
  deepStrictEqual(offenders, []);
  ok(scanned > 100, `only ${scanned} files scanned`); // An empty walk would pass vacuously.
});

Deno.test("the browser platform reads over fetch relative to its base, says NotFound on 404 and refuses writes", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/run`);
    await Deno.writeTextFile(`${dir}/run/a.json`, `{"x":1}`);
    await Deno.writeFile(`${dir}/run/b.bin`, new Uint8Array([9, 8, 7, 6]));
    await withServer(dir, async (base) => {
      const p = browserPlatform(`${base}run/`);
      strictEqual(p.name, "browser");
      strictEqual(await p.readTextFile("a.json"), `{"x":1}`);
      {
        using f = await p.openFile("b.bin");
        const buf = new Uint8Array(2);
        strictEqual(await f.read(1, buf), 2);
        deepStrictEqual(buf, new Uint8Array([8, 7]));
      }
      ok(isNotFound(await p.readFile("nothing.json").catch((e) => e)));
      const locked = await p.readFile("locked").catch((e) => e);
      ok(!isNotFound(locked) && /Cannot read "locked": HTTP 403/.test(locked.message), locked);
      await rejects(
        () => p.writeFileAtomic("c.json", "{}"),
        /cannot be written from a browser tab/,
      );
      throws(() => p.writeFileAtomicSync("c.json", "{}"), /cannot be written from a browser tab/);
      await rejects(() => p.mkdir("d"), /Cannot create "d" from a browser tab/);
      await rejects(() => p.openWrite("e", false), /cannot be written from a browser tab/);
      await rejects(() => p.rename("a.json", "f"), /cannot be written from a browser tab/);
      await rejects(() => p.stat("a.json"), /Cannot inspect "a.json" from a browser tab/);
      deepStrictEqual([p.pid, p.processAlive(12345)], [0, true]);
      strictEqual(p.env("HOME"), undefined);
    });
  });
});

Deno.test("with the browser platform set, a checkpoint loads over fetch into the same model", async () => {
  await withDir(async (dir) => {
    const config = gptConfig({
      vocabSize: 11,
      nCtx: 6,
      dModel: 8,
      nLayer: 1,
      nHead: 2,
      layerNormEps: 1e-5,
    });
    const saved = new GPT(config, { seed: 4, backend: CPU });
    await saveModule(saved, `${dir}/model.safetensors`);
    await withServer(dir, async (base) => {
      setPlatform(browserPlatform(base));
      let tensors;
      try {
        strictEqual(platform().name, "browser");
        tensors = (await readSafetensors("model.safetensors")).tensors;
      } finally {
        setPlatform(denoPlatform);
      }
      const loaded = new GPT(config, { backend: CPU, initialize: false });
      loaded.loadStateDict(tensors);
      const ids = tensor([[1, 2, 3, 4]], undefined, { backend: CPU, dtype: "int32" });
      const logits = (m: GPT) => noGrad(() => m.forward(ids).toArray());
      // Stored as float32, so equal to float32 precision.
      const [a, b] = [await logits(saved), await logits(loaded)];
      ok(a.every((x, i) => Math.abs(x - b[i]) <= 1e-5 * (1 + Math.abs(x))), "logits differ");
      for (const m of [saved, loaded]) m.dispose();
      ids.dispose();
    });
  });
});

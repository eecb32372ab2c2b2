// `fetchFiles()` against a local HTTP server: a good file, a wrong hash, a download cut short
// (resumed in the same run and in the next), a 404, a server that stalls, and no server at all.
import { deepStrictEqual, equal, match, ok, rejects } from "node:assert/strict";
import { fetchFiles, OfflineError } from "../../../malmen/data/fetch.ts";
import { type PinnedFile, pinnedUrl } from "../../../malmen/data/pins.ts";

type Behaviour = "ok" | "ignore-range" | "cut" | "stall" | "stall-midway" | "404" | "corrupt";

interface Server {
  base: string;
  /** `range` header of every request, in order ("" when none). */
  ranges: string[];
  behaviour: Behaviour;
  close: () => Promise<void>;
}

const BYTES = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7919) % 251);

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function pinned(): Promise<PinnedFile> {
  return {
    path: "set/file.json",
    repo: "owner/repo",
    commit: "0".repeat(40),
    repoPath: "data/file.json",
    bytes: BYTES.length,
    sha256: await sha256(BYTES),
  };
}

// Serves BYTES at the pinned path with range support, misbehaving as told.
function serve(): Server {
  let release = () => {};
  const released = new Promise<void>((r) => (release = r));
  const state: Server = { base: "", ranges: [], behaviour: "ok", close: async () => {} };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    state.ranges.push(req.headers.get("range") ?? "");
    const b = state.behaviour;
    if (b === "404" || !new URL(req.url).pathname.endsWith("/data/file.json")) {
      return new Response("no such file", { status: 404, statusText: "Not Found" });
    }
    if (b === "stall") return released.then(() => new Response("late", { status: 500 }));
    const from = Number(/^bytes=(\d+)-$/.exec(req.headers.get("range") ?? "")?.[1] ?? 0);
    const ranged = from > 0 && b !== "ignore-range";
    const body = BYTES.slice(ranged ? from : 0);
    if (b === "corrupt") body[10] ^= 1;
    const half = Math.floor(body.length / 2);
    const stream = new ReadableStream<Uint8Array>({
      async start(c) {
        if (b === "cut" || b === "stall-midway") {
          c.enqueue(body.slice(0, half));
          // "cut" ends the body early once (no Content-Length: the client sees a short file).
          if (b === "cut") state.behaviour = "ok";
          else await released;
        } else c.enqueue(body);
        c.close();
      },
    });
    const headers: Record<string, string> = ranged
      ? { "content-range": `bytes ${from}-${BYTES.length - 1}/${BYTES.length}` }
      : {};
    return new Response(stream, { status: ranged ? 206 : 200, headers });
  });
  state.base = `http://127.0.0.1:${server.addr.port}/`;
  state.close = async () => {
    release();
    await server.shutdown();
  };
  return state;
}

async function withServer(fn: (s: Server, dir: string, file: PinnedFile) => Promise<void>) {
  const s = serve();
  const dir = await Deno.makeTempDir();
  try {
    await fn(s, dir, await pinned());
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const names = async (dir: string): Promise<string[]> => {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${dir}/set`)) out.push(e.name);
  return out.sort();
};

Deno.test("`fetchFiles()` downloads a good file, verifies it, and keeps it on the next run", async () => {
  await withServer(async (s, dir, file) => {
    const first = await fetchFiles([file], { dir, baseUrl: s.base });
    deepStrictEqual(first, [{ path: `${dir}/set/file.json`, status: "downloaded" }]);
    deepStrictEqual(await Deno.readFile(`${dir}/set/file.json`), BYTES);
    deepStrictEqual(await names(dir), ["file.json"]);
    const second = await fetchFiles([file], { dir, baseUrl: s.base });
    equal(second[0].status, "present");
    equal(s.ranges.length, 1, "a verified file is not downloaded again");
  });
});

Deno.test("`fetchFiles()` removes a download whose hash is wrong and writes nothing", async () => {
  await withServer(async (s, dir, file) => {
    s.behaviour = "corrupt";
    await rejects(
      () => fetchFiles([file], { dir, baseUrl: s.base }),
      (e: Error) => {
        match(e.message, new RegExp(`has sha256 [0-9a-f]{64}, not the pinned ${file.sha256}`));
        match(e.message, /it was removed, nothing was written/);
        return true;
      },
    );
    deepStrictEqual(await names(dir), []);
    // A file in place that does not match its pin is reported, never replaced.
    const bad = BYTES.slice();
    bad[0] ^= 1;
    await Deno.writeFile(`${dir}/set/file.json`, bad);
    s.behaviour = "ok";
    await rejects(
      () => fetchFiles([file], { dir, baseUrl: s.base }),
      /set\/file.json is there but has sha256 .* it is not replaced: remove it and fetch again/,
    );
    deepStrictEqual(await Deno.readFile(`${dir}/set/file.json`), bad);
  });
});

Deno.test("`fetchFiles()` resumes a download cut short, in the same run and in the next", async () => {
  await withServer(async (s, dir, file) => {
    s.behaviour = "cut";
    await fetchFiles([file], { dir, baseUrl: s.base });
    deepStrictEqual(s.ranges, ["", `bytes=${BYTES.length / 2}-`]);
    deepStrictEqual(await Deno.readFile(`${dir}/set/file.json`), BYTES);

    // A partial file left by an earlier run is continued from its end.
    await Deno.remove(`${dir}/set/file.json`);
    await Deno.writeFile(`${dir}/set/file.json.part`, BYTES.slice(0, 1234));
    s.ranges.length = 0;
    await fetchFiles([file], { dir, baseUrl: s.base });
    deepStrictEqual(s.ranges, ["bytes=1234-"]);
    deepStrictEqual(await Deno.readFile(`${dir}/set/file.json`), BYTES);

    // A server that ignores the range sends the whole file again: the part is restarted.
    await Deno.remove(`${dir}/set/file.json`);
    await Deno.writeFile(`${dir}/set/file.json.part`, BYTES.slice(0, 1234));
    s.behaviour = "ignore-range";
    await fetchFiles([file], { dir, baseUrl: s.base });
    deepStrictEqual(await Deno.readFile(`${dir}/set/file.json`), BYTES);
    deepStrictEqual(await names(dir), ["file.json"]);
  });
});

Deno.test("`fetchFiles()` names the URL and status of a 404", async () => {
  await withServer(async (s, dir, file) => {
    s.behaviour = "404";
    await rejects(
      () => fetchFiles([file], { dir, baseUrl: s.base }),
      new RegExp(`^Error: ${escape(pinnedUrl(file, s.base))}: HTTP 404 Not Found$`),
    );
    deepStrictEqual(await names(dir), []);
  });
});

Deno.test("`fetchFiles()` gives up on a silent server and keeps what arrived for the next run", async () => {
  await withServer(async (s, dir, file) => {
    s.behaviour = "stall";
    await rejects(
      () => fetchFiles([file], { dir, baseUrl: s.base, idleTimeoutMs: 200 }),
      /: no data for 0.2 s; run again to resume$/,
    );
    s.behaviour = "stall-midway";
    await rejects(
      () => fetchFiles([file], { dir, baseUrl: s.base, idleTimeoutMs: 200 }),
      new RegExp(`no data for 0.2 s; run again to resume \\(2500 of 5000 bytes kept in .*part\\)`),
    );
    equal((await Deno.stat(`${dir}/set/file.json.part`)).size, 2500);
    s.behaviour = "ok";
    await fetchFiles([file], { dir, baseUrl: s.base });
    deepStrictEqual(await Deno.readFile(`${dir}/set/file.json`), BYTES);
  });
});

Deno.test("`fetchFiles()` without a server says how to place the files by hand", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const dir = await Deno.makeTempDir();
  try {
    const file = await pinned();
    const base = `http://127.0.0.1:${port}/`;
    await rejects(() => fetchFiles([file], { dir, baseUrl: base }), (e: Error) => {
      ok(e instanceof OfflineError, e.message);
      ok(e.message.startsWith(`Cannot reach ${pinnedUrl(file, base)} (`), e.message);
      ok(
        e.message.includes(
          `${
            pinnedUrl(file, base)
          }\n    -> ${dir}/set/file.json (5000 bytes, sha256 ${file.sha256})`,
        ),
        e.message,
      );
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

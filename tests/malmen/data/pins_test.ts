// The pinned sources of `deno task data fetch`: their addresses, and their sizes and hashes
// checked against the byte-identical copies in ../shared/data-raw when those are at hand (then
// also fetched end to end from a local server that serves them).
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { defaultDataRawDir } from "../../../malmen/data/data_raw.ts";
import { fetchDataset } from "../../../malmen/data/fetch.ts";
import { loadDataSplits } from "../../../malmen/data/data_source.ts";
import { DATASET_NAMES, DATASETS, pinnedUrl } from "../../../malmen/data/pins.ts";

const RAW = fileURLToPath(defaultDataRawDir());
const all = DATASET_NAMES.flatMap((n) => DATASETS[n]);
const haveRaw = all.every((f) => {
  try {
    return Deno.statSync(`${RAW}/${f.path}`).isFile;
  } catch {
    return false;
  }
});
if (!haveRaw) console.log(`SKIP pinned-file checks: the files are not all under ${RAW}`);

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("pinned files are addressed as raw.githubusercontent.com/<repo>/<commit>/<path>", () => {
  assert.equal(
    pinnedUrl(DATASETS.zsre[0]),
    "https://raw.githubusercontent.com/Jometeorie/KnowledgeSpread/" +
      "51d7402617c2e52bde0dc11b76e400c3725a181a/data/zsre/zsre_mend_train-1k.json",
  );
  assert.equal(
    pinnedUrl(DATASETS.counterfact[1], "http://127.0.0.1:9/mirror"),
    "http://127.0.0.1:9/mirror/Jometeorie/KnowledgeSpread/" +
      "51d7402617c2e52bde0dc11b76e400c3725a181a/data/counterfact/counterfact-val.json",
  );
  assert.deepEqual(DATASETS.counterfact.map((f) => f.path), [
    "counterfact/counterfact-train.json",
    "counterfact/counterfact-val.json",
    "counterfact/counterfact-edit.json",
  ]);
  for (const f of all) {
    assert.match(f.commit, /^[0-9a-f]{40}$/);
    assert.match(f.sha256, /^[0-9a-f]{64}$/);
  }
});

Deno.test({
  name: "every pin's size and sha256 match the copy in ../shared/data-raw",
  ignore: !haveRaw,
  fn: async () => {
    for (const f of all) {
      const bytes = await Deno.readFile(`${RAW}/${f.path}`);
      assert.equal(bytes.length, f.bytes, f.path);
      assert.equal(await sha256(bytes), f.sha256, f.path);
    }
  },
});

Deno.test({
  name: "`fetchDataset()` fetches both data sets from a mirror into a folder the lookup finds",
  ignore: !haveRaw,
  fn: async () => {
    // A mirror laid out as the raw host: /<repo>/<commit>/<repoPath> -> the shared copy.
    const byUrlPath = new Map(
      all.map((f) => [new URL(pinnedUrl(f, "http://x/")).pathname, f.path]),
    );
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (req) => {
        const path = byUrlPath.get(new URL(req.url).pathname);
        if (path === undefined) return new Response("missing", { status: 404 });
        return new Response(await Deno.readFile(`${RAW}/${path}`));
      },
    );
    const dir = await Deno.makeTempDir();
    try {
      const base = `http://127.0.0.1:${server.addr.port}/`;
      for (const name of DATASET_NAMES) {
        const files = await fetchDataset(name, { dir, baseUrl: base });
        assert.deepEqual(files.map((f) => f.status), DATASETS[name].map(() => "downloaded"));
      }
      const places = { env: null, dataRaw: `${dir}/absent`, cache: dir };
      const s = await loadDataSplits({ kind: "dataset", name: "counterfact" }, places);
      assert.deepEqual([s.train.length, s.val.length, s.edit.length], [10000, 1919, 10000]);
      const z = await loadDataSplits({ kind: "dataset", name: "zsre" }, places);
      assert.deepEqual([z.train.length, z.val.length, z.edit.length], [450, 100, 450]);
    } finally {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

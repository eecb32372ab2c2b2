// The web app's HTTP side: the page, the JSON API (errors as status 400 with the CLI's message,
// 409 while `deno task edit` holds the journal), the edit's progress stream, run files served
// read-only and only inside their folders, entry downloads that the journal API reads back, and
// `deno task serve`'s flag errors.
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { CPU } from "../../../engine/backend.ts";
import type { EditRecord } from "../../../malmen/data/edit_record.ts";
import { readJournalEntry } from "../../../malmen/editors/journal.ts";
import { Journal } from "../../../malmen/editors/journal_log.ts";
import { identityOf } from "../../../malmen/lm/identity.ts";
import { editorDirs, type RunningApp, startApp } from "../../../examples/serve/start.ts";
import { writeTinyRuns } from "../../../examples/serve/tiny_runs.ts";
import { runDeno } from "../../_run.ts";

const runs = await Deno.makeTempDir({ prefix: "serve_server_test_" });
const edits: EditRecord[] = await writeTinyRuns(runs, CPU, { lmEpochs: 1, metaSteps: 1 });
globalThis.addEventListener("unload", () => Deno.removeSync(runs, { recursive: true }));

async function withApp(fn: (app: RunningApp) => Promise<void>): Promise<void> {
  const bundleDir = await Deno.makeTempDir(); // The bundle is not needed here.
  const app = await startApp({
    lmDir: `${runs}/lm`,
    editorDirs: editorDirs(runs),
    journalDir: `${runs}/journal-${crypto.randomUUID()}`,
    backend: CPU,
    port: 0,
    bundleDir,
  });
  try {
    await fn(app);
  } finally {
    await app.shutdown();
    await Deno.remove(bundleDir, { recursive: true });
  }
}

const post = (url: string, body: unknown) =>
  fetch(url, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "json" } });

Deno.test("the page, its stylesheet and the API's info are served", async () => {
  await withApp(async ({ url }) => {
    const page = await (await fetch(url)).text();
    ok(page.includes(`<script type="module" src="/bundle/serve/page/app.js">`), page);
    const css = await fetch(`${url}style.css`);
    strictEqual(css.headers.get("content-type"), "text/css; charset=utf-8");
    await css.body?.cancel();
    const info = await (await fetch(`${url}api/info`)).json();
    deepStrictEqual([info.lm.path, info.lm.layers, info.editors], ["files/lm", 2, [
      "malmen",
      "ft",
      "memit",
    ]]);
    deepStrictEqual(
      info.editorPaths,
      { malmen: "files/editors/malmen", memit: "files/editors/memit" },
      "no mend run, no mend",
    );
    const asked = await (await post(`${url}api/ask`, { prompt: edits[0].prompt })).json();
    strictEqual(typeof asked.answer, "string");
  });
});

Deno.test("bad requests get status 400 and the CLI's message; unknown routes 404", async () => {
  await withApp(async ({ url, session }) => {
    const bad = await post(`${url}api/edit`, {
      editor: "ft",
      records: [{ ...edits[0], target_new: "" }],
      facts: [],
    });
    strictEqual(bad.status, 400);
    deepStrictEqual(await bad.json(), {
      error: 'records: record 0: field "target_new" must be a non-empty string, got ""',
    });
    const notJson = await fetch(`${url}api/ask`, { method: "POST", body: "{" });
    deepStrictEqual([notJson.status, (await notJson.json()).error], [
      400,
      "The request body is not valid JSON",
    ]);
    const unknown = await fetch(`${url}api/journal/9/revert`, { method: "POST" });
    deepStrictEqual([unknown.status, (await unknown.json()).error], [
      400,
      `The journal in "${session.options.journalDir}" has no entry 9 (it has none)`,
    ]);
    const missing = await fetch(`${url}api/nothing`);
    strictEqual(missing.status, 404);
    await missing.body?.cancel();
  });
});

Deno.test("an edit streams its progress, and its entry downloads as a journal entry", async () => {
  await withApp(async ({ url, session }) => {
    const response = await post(`${url}api/edit`, {
      editor: "ft",
      records: edits.slice(0, 3),
      facts: [],
    });
    strictEqual(response.headers.get("content-type"), "application/x-ndjson");
    const lines = (await response.text()).trim().split("\n").map((l) => JSON.parse(l));
    deepStrictEqual(lines.slice(0, 4), [{ phase: 0 }, { phase: 1 }, { phase: 2 }, { phase: 3 }]);
    strictEqual(lines[4].entry.id, "1");
    const download = await fetch(`${url}api/journal/1/download`);
    strictEqual(
      download.headers.get("content-disposition"),
      'attachment; filename="journal-1.safetensors"',
    );
    const bytes = new Uint8Array(await download.arrayBuffer());
    const file = await Deno.makeTempFile({ suffix: ".safetensors" });
    await Deno.writeFile(file, bytes);
    const { shifts, metadata } = await readJournalEntry(file, session.model);
    deepStrictEqual([...shifts.keys()], [1]);
    deepStrictEqual([metadata.editor, metadata.m, metadata.id, metadata.lm], [
      "ft",
      "3",
      "1",
      identityOf(session.model),
    ]);
    for (const t of shifts.values()) t.dispose();
    await Deno.remove(file);
    // The tab reads the same file to apply the entry.
    const served = await fetch(`${url}files/journal/1.safetensors`);
    deepStrictEqual(new Uint8Array(await served.arrayBuffer()), bytes);
    // While another writer (`deno task edit`) holds the journal: 409, the holder named.
    const cli = await Journal.open(session.options.journalDir, { write: true });
    try {
      const held = await fetch(`${url}api/journal/1/revert`, { method: "POST" });
      const { error } = await held.json();
      deepStrictEqual(held.status, 409);
      ok(error.startsWith(`"${session.options.journalDir}" is in use by another process`), error);
    } finally {
      await cli.close();
    }
    const reverted = await (await fetch(`${url}api/journal/1/revert`, { method: "POST" })).json();
    deepStrictEqual([reverted.id, reverted.applied], ["1", false]);
  });
});

Deno.test("run files are served only inside the LM, editor and journal folders", async () => {
  await withApp(async ({ url }) => {
    const ok200 = await fetch(`${url}files/lm/latest.json`);
    strictEqual(ok200.status, 200);
    ok(typeof (await ok200.json()).checkpoint === "string");
    for (
      const path of [
        "files/lm/../edits.json",
        "files/lm/%2e%2e/edits.json",
        "files/lm/.x",
        "files/editors/mend/editor.json",
        "files/journal/..%2Findex.json",
        "files/other",
      ]
    ) {
      const r = await fetch(`${url}${path}`);
      ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`);
      await r.body?.cancel();
    }
  });
});

Deno.test("`deno task serve` names a missing LM run and a bad port with exit 2", async () => {
  const run = (...args: string[]) => runDeno(["examples/serve.ts", ...args]);
  const help = await run("--help");
  ok(help.code === 0 && help.out.startsWith("Usage: deno task serve"), help.err);
  const missing = await run("--runs", `${runs}/none`, "--backend", "cpu");
  strictEqual(missing.code, 2, missing.err);
  ok(missing.err.includes(`No trained language model in "${runs}/none/lm"`), missing.err);
  const port = await run("--port", "70000", "--backend", "cpu");
  strictEqual(port.code, 2, port.err);
  ok(port.err.includes('--port must be an integer in 0..65535, got "70000"'), port.err);
});

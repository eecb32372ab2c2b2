// `deno task browser-check`: the engine and the web app end to end in headless Chromium.
import { parseArgs } from "node:util";
import type { EditRecord } from "../malmen/data/edit_record.ts";
import { FAST_SHADER_FLAGS, findChromium, launchChromium } from "./_browser/chromium.ts";
import { probeInPage, promptToWatch } from "./_browser/check.ts";
import * as drive from "./_browser/drive.ts";
import { editorDirs, startApp } from "./serve/start.ts";
import { writeTinyRuns } from "./serve/tiny_runs.ts";
import { COMMON_HELP, COMMON_OPTIONS, oneOf, pickBackend, runCli, UsageError } from "./_cli/mod.ts";

const HELP = `Usage: deno task browser-check [options]

Starts the web app and headless Chromium (WebGPU; SwiftShader without a GPU) and checks, in the
page: the engine (ops, a GPT forward, a MALMEN edit) against Deno's float64 reference, then, on
the server and in the tab, ask → edit 8 facts → the answer changes → revert → the old answer is
back (and re-apply). Prints what passed; exit 1 if anything failed.

Options:
  --runs DIR       run folder with lm/, malmen/ and edits.json (default runs/demo when trained,
                   else tiny runs trained in a temporary folder in about a minute)
  --editor NAME    ft (default: its edit always shows), malmen, mend or memit
  --json           print one line of JSON
  --screenshot F   save a PNG of the whole page at the end (900 px wide)
${COMMON_HELP}

Chromium is /usr/bin/chromium (or $CHROMIUM); the journal goes to a temporary folder.`;

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

await runCli(async () => {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string" },
      editor: { type: "string", default: "ft" },
      json: { type: "boolean", default: false },
      screenshot: { type: "string" },
      ...COMMON_OPTIONS,
    },
  });
  if (v.help) return console.log(HELP);
  const editor = oneOf("editor", v.editor!, ["ft", "malmen", "mend", "memit"] as const);
  const chromium = findChromium();
  if (chromium === null) {
    throw new UsageError("No Chromium: `apt-get install chromium`, or set CHROMIUM to its path");
  }
  const log = v.json ? () => {} : (m: string) => console.log(m);
  let runs = v.runs?.replace(/\/+$/, "");
  if (runs !== undefined && !(await exists(`${runs}/lm/latest.json`))) {
    throw new UsageError(`No trained language model in "${runs}/lm"`);
  }
  const backend = await pickBackend(v.backend);
  runs ??= await exists("runs/demo/lm/latest.json") ? "runs/demo" : undefined;
  const temp = await Deno.makeTempDir({ prefix: "browser-check-" });
  let records: EditRecord[];
  let label = runs;
  if (runs === undefined) {
    log(`No runs/demo: training tiny runs in ${temp}/runs`);
    runs = `${temp}/runs`;
    records = await writeTinyRuns(runs, backend, { log });
    label = "tiny (trained here)";
  } else {
    records = JSON.parse(await Deno.readTextFile(`${runs}/edits.json`));
  }
  const facts = records.slice(0, 8);
  const app = await startApp({
    lmDir: `${runs}/lm`,
    editorDirs: editorDirs(runs),
    journalDir: `${temp}/journal`,
    backend,
    port: 0,
  });
  const browser = await launchChromium(chromium, FAST_SHADER_FLAGS);
  const result = {
    check: "browser",
    adapter: "",
    webgpu: false,
    engine_ok: false,
    edit_ok: false,
    revert_ok: false,
    in_browser_compute: false,
    runs: label,
    editor,
    seconds: 0,
    error: undefined as string | undefined,
  };
  const t0 = performance.now();
  try {
    const page = await browser.newPage();
    await page.setViewport(1000, 900);
    await drive.openApp(page, app.url);
    result.webgpu = await page.evaluate<boolean>(
      `(async () => !!(navigator.gpu && await navigator.gpu.requestAdapter()))()`,
    );
    const probe = await probeInPage(page);
    result.adapter = probe.adapter;
    result.engine_ok = probe.ok;
    log(
      `engine in the page on ${probe.adapter}: ${probe.ok ? "ok" : JSON.stringify(probe.errors)}`,
    );
    const prompt = await promptToWatch(facts, (p) => app.session.ask(p));
    const flows = [];
    for (const mode of ["server", "tab"] as const) {
      await drive.chooseCompute(page, mode);
      const r = await drive.askEditRevert(page, { prompt, records: facts, editor });
      log(`${mode}: "${r.before}" → "${r.after}", reverted "${r.reverted}" (${r.summary})`);
      flows.push({ mode, ...r });
    }
    result.edit_ok = flows.every((r) => r.after !== r.before && r.reapplied === r.after);
    result.revert_ok = flows.every((r) => r.reverted === r.before && r.shownReverted === r.before);
    const tab = flows[1];
    result.in_browser_compute = tab.summary.includes("computed in this tab") &&
      (await app.session.journal()).find((e) => e.id === tab.entry)?.computedIn === "tab";
    if (v.screenshot) {
      await page.setViewport(900, 700);
      await Deno.writeFile(v.screenshot, await page.screenshot(true));
    }
  } catch (e) {
    result.error = (e as Error).message;
  } finally {
    result.seconds = Math.round((performance.now() - t0) / 100) / 10;
    await browser.close();
    await app.shutdown();
    await Deno.remove(temp, { recursive: true }).catch(() => {});
  }
  if (v.json) console.log(JSON.stringify(result));
  else console.log(JSON.stringify(result, null, 2));
  const passed = result.webgpu && result.engine_ok && result.edit_ok && result.revert_ok &&
    result.in_browser_compute;
  if (!passed) Deno.exit(1);
});

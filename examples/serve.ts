// `deno task serve`: the web app over a trained LM and its editors (see examples/serve/).
import { parseArgs } from "node:util";
import { editorDirs, startApp } from "./serve/start.ts";
import { COMMON_HELP, COMMON_OPTIONS, int, pickBackend, runCli, UsageError } from "./_cli/mod.ts";

const HELP = `Usage: deno task serve [options]

Serves a web app over a trained LM and its editors: ask the model (greedy continuation), add
facts or upload a CounterFact / zsRE file, edit them all at once with any editor the CLI has
(MALMEN, MEND, FT, MEMIT: those whose runs are in --runs), see
each fact before → after with the ES / GS / LS summary, and list, revert, re-apply or download
the journal's entries. The page computes on the server (Deno's WebGPU) or in the browser tab
(the browser's WebGPU), as chosen in the page.

Options:
  --runs DIR       run folder with lm/ and the editors' malmen/, mend/, memit/ (default
                   runs/demo: the demo's)
  --lm DIR         the LM run (default <runs>/lm)
  --journal DIR    journal folder (default <runs>/journal); deno task edit --out DIR writes
                   the same append-only journal, so both can share one folder
  --host NAME      interface to listen on (default 127.0.0.1: this machine only)
  --port N         port (default 8000; 0 picks a free one)
${COMMON_HELP}

Each edit is an entry of the append-only journal (entries/, log/, reports/, inputs/; nothing is
ever overwritten), recording the LM it was computed on; an edit computed in the tab passes the
same checks as the server's. Concurrent requests are served one at a time; a write while
deno task edit holds the folder is refused with its holder named (retry). Stop with Ctrl-C.`;

await runCli(async () => {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string", default: "runs/demo" },
      lm: { type: "string" },
      journal: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string" },
      ...COMMON_OPTIONS,
    },
  });
  if (v.help) return console.log(HELP);
  const port = int("port", v.port, 8000, 0);
  if (port > 65535) throw new UsageError(`--port must be an integer in 0..65535, got "${v.port}"`);
  const runs = v.runs!.replace(/\/+$/, "");
  const lmDir = v.lm ?? `${runs}/lm`;
  try {
    await Deno.stat(`${lmDir}/latest.json`);
  } catch {
    throw new UsageError(
      `No trained language model in "${lmDir}": run \`deno task demo\` first, or name one with --lm`,
    );
  }
  const backend = await pickBackend(v.backend);
  const app = await startApp({
    lmDir,
    editorDirs: editorDirs(runs),
    journalDir: v.journal ?? `${runs}/journal`,
    backend,
    host: v.host,
    port,
  });
  const editors = app.session.editors().join(", ");
  console.log(`Serving ${lmDir} (editors: ${editors}) at ${app.url} — Ctrl-C stops`);
  const stopped = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGINT", () => stopped.resolve());
  await stopped.promise;
  console.log("Stopping...");
  await app.shutdown();
});

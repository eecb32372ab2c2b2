// Which bundler builds the browser bundle (examples/serve/bundle.ts): `deno bundle`, or esbuild
// from npm (examples/serve/bundler/, with its plugin for the vocabulary's `npm:` imports); each plain and minified, on the app's entries. Per variant: build wall time (median
// of 3), bytes written, bytes a page loads computing on the server (the page's chunks) and in the
// tab (plus the engine and the GPT-2 vocabulary), and whether every chunk is a valid ES module
// (parsed by esbuild; a module runs in strict mode, where `var eval` is a SyntaxError). The
// esbuild rows include the start of the bundler's Deno process.
//
//   deno run -A bench/dev/bundlers.ts
import { buildBundle, BUNDLE_ENTRIES, runBundler } from "../../examples/serve/bundle.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function denoBundle(out: string, minify: boolean): Promise<void> {
  const args = ["bundle", "--quiet", "--platform", "browser", "--code-splitting", "--outdir", out];
  if (minify) args.push("--minify");
  const r = await new Deno.Command(Deno.execPath(), {
    args: [...args, ...BUNDLE_ENTRIES.map((e) => ROOT + e)],
    cwd: ROOT,
  }).output();
  if (r.code !== 0) throw new Error(new TextDecoder().decode(r.stderr));
}

async function files(dir: string, prefix = ""): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) {
      for (const [k, v] of await files(`${dir}/${e.name}`, `${prefix}${e.name}/`)) out.set(k, v);
    } else out.set(`${prefix}${e.name}`, await Deno.readTextFile(`${dir}/${e.name}`));
  }
  return out;
}

// Bytes of `start` and everything it imports, statically (and dynamically when `lazy`).
function loaded(all: Map<string, string>, start: string, lazy: boolean): number {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name) || !all.has(name)) return;
    seen.add(name);
    const dir = name.includes("/") ? name.slice(0, name.lastIndexOf("/") + 1) : "";
    const re = lazy ? /(?:from|import)\s*\(?\s*"(\.[^"]+)"/g : /from\s*"(\.[^"]+)"/g;
    for (const m of all.get(name)!.matchAll(re)) {
      visit(new URL(m[1], `file:///${dir}`).pathname.slice(1));
    }
  };
  visit(start);
  return [...seen].reduce((n, f) => n + new TextEncoder().encode(all.get(f)!).length, 0);
}

const variants: [string, (out: string) => Promise<unknown>][] = [
  ["deno bundle", (o) => denoBundle(o, false)],
  ["deno bundle --minify", (o) => denoBundle(o, true)],
  ["esbuild 0.28.2", (o) => buildBundle(o, false)],
  ["esbuild 0.28.2 --minify (the app's)", (o) => buildBundle(o, true)],
];
const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
console.log(
  "| bundler | build s (median of 3) | written | page (server mode) | page (tab mode) | valid modules |",
);
console.log("| --- | --- | --- | --- | --- | --- |");
for (const [name, build] of variants) {
  const times: number[] = [];
  let out = "";
  for (let i = 0; i < 3; i++) {
    out = await Deno.makeTempDir({ prefix: "bundlers-" });
    const t0 = performance.now();
    await build(out);
    times.push((performance.now() - t0) / 1000);
  }
  const all = await files(out);
  // esbuild's parser, in the bundler's own process (only its config names esbuild).
  const failures = JSON.parse(await runBundler(["--check", out])) as Record<string, string>;
  const invalid = Object.entries(failures).map(([file, error]) => `${file}: ${error}`);
  const total = [...all.values()].reduce((n, c) => n + new TextEncoder().encode(c).length, 0);
  const median = times.sort((a, b) => a - b)[1];
  console.log(
    `| ${name} | ${median.toFixed(2)} | ${kb(total)} | ${
      kb(loaded(all, "serve/page/app.js", false))
    } | ` +
      `${kb(loaded(all, "serve/page/app.js", true))} | ${
        invalid.length === 0 ? "yes" : invalid.join("; ")
      } |`,
  );
  await Deno.remove(out, { recursive: true });
}

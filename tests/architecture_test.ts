// The repository against its layering (tests/_architecture.ts: no import cycle, no upward
// import, nothing outside tests/ importing tests/, no file over 450 lines), and the checker
// itself on planted repositories, so that a broken checker cannot pass silently.
import { deepStrictEqual, ok } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { checkArchitecture, MAX_LINES, scanRepository } from "./_architecture.ts";
import { parseImports } from "./_imports.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

Deno.test("the repository keeps its layering: no cycle, no upward import, no import of tests/, no long file", async () => {
  const files = await scanRepository(ROOT);
  // A walker that found nothing would pass vacuously.
  for (const known of ["engine/tensor.ts", "kernels/matmul.ts", "tests/architecture_test.ts"]) {
    ok(files.some((f) => f.path === known), `scan missed ${known}`);
  }
  const violations = checkArchitecture(files);
  ok(violations.length === 0, `\n${violations.map((v) => v.message).join("\n")}`);
});

Deno.test("`parseImports()` finds static, re-export, side-effect and dynamic imports, and nothing in comments, strings or templates", () => {
  const source = [
    `/** @example`,
    ` * import { x } from "./in_jsdoc.ts";`,
    ` */`,
    `// import "./in_line_comment.ts";`,
    `import type { A } from "./a.ts";`,
    `import b, { c } from '../b.ts';`,
    `import "./side.ts";`,
    `export * from "./star.ts";`,
    `export { d as e } from "./named.ts";`,
    `const s = "import f from './in_string.ts'";`,
    'const wgsl = `// from "./in_template.ts"\n${s + `import("./nested.ts")`}`;',
    `const re = /["'/]from "\\.\\/in_regex.ts"/g;`,
    `const m = await import("./dynamic.ts");`,
    "type T = typeof import(`./type_level.ts`);",
    `const arr = Array.from("./not_an_import.ts");`,
    `const meta = import.meta.url;`,
  ].join("\n");
  deepStrictEqual(parseImports(source), [
    { specifier: "./a.ts", line: 5 },
    { specifier: "../b.ts", line: 6 },
    { specifier: "./side.ts", line: 7 },
    { specifier: "./star.ts", line: 8 },
    { specifier: "./named.ts", line: 9 },
    { specifier: "./dynamic.ts", line: 14 },
    { specifier: "./type_level.ts", line: 15 },
  ]);
});

/** Writes `files` (path → text) under a fresh temporary root. */
async function plant(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "architecture_test_" });
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(dirname(join(root, path)), { recursive: true });
    await Deno.writeTextFile(join(root, path), text);
  }
  return root;
}

Deno.test("the checker catches a planted cycle, upward imports, an import of tests/ and a long file", async () => {
  const lines = (n: number): string => "const x = 1;\n".repeat(n);
  const root = await plant({
    "kernels/k.ts": `export const k = 1;\n`,
    // A cycle inside the core, and the core reaching up into ops/.
    "engine/tensor.ts": `import "./autograd.ts";\nimport "./ops/copy.ts";\n`,
    "engine/autograd.ts": `import { k } from "../kernels/k.ts";\nimport "./tensor.ts";\n`,
    "engine/ops/copy.ts": `import "../tensor.ts";\n`,
    // Comments, strings and WGSL templates are not imports.
    "engine/ops/quiet.ts":
      `// import "../../malmen/m.ts";\nconst s = "from '../../bench/b.ts'";\n` +
      'const w = `import "../../examples/e.ts"`;\n',
    "kernels/up.ts": `export * from "../engine/tensor.ts";\n`,
    "malmen/m.ts": `const e = await import("../examples/e.ts");\n`,
    "examples/e.ts": `import "../malmen/m.ts";\n`,
    "bench/b.ts": `import "../tests/_fixture.ts";\n`,
    "tests/_fixture.ts": `import "../bench/b.ts";\n`,
    "engine/ops/at_limit.ts": lines(MAX_LINES),
    "engine/ops/too_long.ts": lines(MAX_LINES + 1),
  });
  try {
    const keys = checkArchitecture(await scanRepository(root)).map((v) => v.key).sort();
    deepStrictEqual(keys, [
      "cycle: bench/b.ts, tests/_fixture.ts",
      "cycle: engine/autograd.ts, engine/ops/copy.ts, engine/tensor.ts",
      "cycle: examples/e.ts, malmen/m.ts",
      "long: engine/ops/too_long.ts",
      "tests: bench/b.ts -> tests/_fixture.ts",
      "upward: engine/tensor.ts -> engine/ops/copy.ts",
      "upward: kernels/up.ts -> engine/tensor.ts",
      "upward: malmen/m.ts -> examples/e.ts",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the checker names the files of a cycle in import order, and files outside every layer", async () => {
  const root = await plant({
    "engine/a.ts": `import "./b.ts";\n`,
    "engine/b.ts": `import "./c.ts";\n`,
    "engine/c.ts": `import "./a.ts";\n`,
    "scratch/s.ts": `import "../engine/a.ts";\n`,
    "engine/self.ts": `import "./self.ts";\n`,
  });
  try {
    const messages = checkArchitecture(await scanRepository(root)).map((v) => v.message).sort();
    deepStrictEqual(messages, [
      "import cycle: engine/a.ts → engine/b.ts → engine/c.ts → engine/a.ts",
      "import cycle: engine/self.ts → engine/self.ts",
      "scratch/s.ts is outside every layer (kernels, engine, malmen, examples, bench, cli, tests): " +
      "place it in one or teach tests/_architecture.ts where it belongs",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

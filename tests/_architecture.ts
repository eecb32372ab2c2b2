// The layering of the repository as rules over its import graph, checked by
// tests/architecture_test.ts. Data flows one way: kernels → engine → malmen → examples, bench
// and cli; tests may import anything and nothing imports tests.
//
// Groups and what each may import (besides external modules: npm:, node:, jsr:, URLs):
// - kernels/ (WGSL generators): kernels/ only, never kernels/malmen/ (MALMEN's own shaders,
//   which may import kernels/). Kernels know nothing of tensors.
// - engine core, every file directly in engine/ except mod.ts (tensor, autograd, scope, alloc,
//   backend, dispatch, pool, device, shape, memory), and engine/platform/ (the host: files,
//   environment, memory figures; Deno's or a browser tab's), which the core itself calls: the
//   core and kernels/. Work the core needs from above (the tape's arithmetic, the copy before a
//   strided read) is installed into it by the layer that defines it, never imported.
// - engine/ops/ and engine/io/: the core, their own folder, kernels/ (ops and io are siblings).
// - engine/nn/: the core, ops/, io/, nn/, kernels/.
// - engine/models/: all of the above plus models/.
// - engine/mod.ts and the root mod.ts (the public surface): anything in engine/ and kernels/.
// - malmen/: engine, kernels (MALMEN's shaders included), malmen.
// - examples/, bench/, cli/: anything but tests/.
// - tests/: anything.
// Also: no import cycle among the repository's files, and no source file (tests included) over
// MAX_LINES lines.
import { dirname, join, normalize, relative } from "node:path";
import { parseImports } from "./_imports.ts";

/** Longest source file the style allows, in lines. */
export const MAX_LINES = 450;

/** One scanned source file. */
export interface SourceFile {
  /** Path relative to the repository root, with `/` separators. */
  path: string;
  /** Line count. */
  lines: number;
  /** Repository files it imports (relative specifiers only), with the line of each import. */
  imports: { target: string; line: number }[];
}

/** One broken rule. */
export interface Violation {
  /** Stable identity, used by allowlists: `kind: file` or `kind: file -> target`. */
  key: string;
  /** What is wrong and which rule says so. */
  message: string;
}

const SOURCE = /\.(ts|tsx|mts|js|mjs)$/;
// Build outputs and data, never sources: dot folders (.git, .ci, .device), ignored outputs, and
// the shared data folder when a machine places it inside the checkout.
const SKIP = new Set(["node_modules", "out", "runs", "shared"]);

/** Reads every source file under `root` (symlinks are not followed). */
export async function scanRepository(root: string): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = [];
    for await (const e of Deno.readDir(dir)) entries.push(e);
    entries.sort((a, b) => a.name < b.name ? -1 : 1);
    for (const e of entries) {
      const full = join(dir, e.name);
      if (e.isDirectory && !e.name.startsWith(".") && !(dir === root && SKIP.has(e.name))) {
        await walk(full);
      } else if (e.isFile && SOURCE.test(e.name)) {
        const text = await Deno.readTextFile(full);
        const path = relative(root, full).replaceAll("\\", "/");
        const imports = parseImports(text)
          .filter((r) => r.specifier.startsWith("./") || r.specifier.startsWith("../"))
          .map((r) => ({
            target: normalize(join(dirname(path), r.specifier)).replaceAll("\\", "/"),
            line: r.line,
          }));
        const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
        files.push({ path, lines, imports });
      }
    }
  };
  await walk(root);
  return files;
}

type Group =
  | "kernels"
  | "kernels/malmen"
  | "engine/core"
  | "engine/ops"
  | "engine/io"
  | "engine/nn"
  | "engine/models"
  | "engine/mod"
  | "malmen"
  | "examples"
  | "bench"
  | "cli"
  | "tests";

const ENGINE: Group[] = [
  "engine/core",
  "engine/ops",
  "engine/io",
  "engine/nn",
  "engine/models",
  "engine/mod",
];
const BELOW_TESTS: Group[] = [
  "kernels",
  "kernels/malmen",
  ...ENGINE,
  "malmen",
  "examples",
  "bench",
  "cli",
];

const ALLOWED: Record<Group, readonly Group[]> = {
  "kernels": ["kernels"],
  "kernels/malmen": ["kernels", "kernels/malmen"],
  "engine/core": ["engine/core", "kernels"],
  "engine/ops": ["engine/core", "engine/ops", "kernels"],
  "engine/io": ["engine/core", "engine/io", "kernels"],
  "engine/nn": ["engine/core", "engine/ops", "engine/io", "engine/nn", "kernels"],
  "engine/models": [...ENGINE.filter((g) => g !== "engine/mod"), "kernels"],
  "engine/mod": [...ENGINE, "kernels"],
  "malmen": [...ENGINE, "kernels", "kernels/malmen", "malmen"],
  "examples": BELOW_TESTS,
  "bench": BELOW_TESTS,
  "cli": BELOW_TESTS,
  "tests": [...BELOW_TESTS, "tests"],
};

/**
 * The layer of a repository path, or null for a path in none (a data file at the root, or a
 * folder the rules do not know).
 */
export function groupOf(path: string): Group | null {
  const parts = path.split("/");
  if (path === "mod.ts" || path === "engine/mod.ts") return "engine/mod";
  if (parts.length < 2) return null;
  if (parts[0] === "kernels") return parts[1] === "malmen" ? "kernels/malmen" : "kernels";
  if (parts[0] === "engine") {
    const part = ["ops", "io", "nn", "models"].includes(parts[1]) && parts.length > 2;
    return part ? `engine/${parts[1]}` as Group : "engine/core";
  }
  return (["malmen", "examples", "bench", "cli", "tests"] as const).find((g) => g === parts[0]) ??
    null;
}

/**
 * Every broken rule: import cycles, imports against the layering, imports from outside the
 * repository, files outside every layer, files over {@linkcode MAX_LINES} lines.
 */
export function checkArchitecture(files: readonly SourceFile[]): Violation[] {
  const out: Violation[] = [];
  for (const f of files) {
    const from = groupOf(f.path);
    if (from === null) {
      out.push({
        key: `unplaced: ${f.path}`,
        message:
          `${f.path} is outside every layer (kernels, engine, malmen, examples, bench, cli, ` +
          `tests): place it in one or teach tests/_architecture.ts where it belongs`,
      });
    }
    if (f.lines > MAX_LINES) {
      out.push({
        key: `long: ${f.path}`,
        message: `${f.path} has ${f.lines} lines; the limit is ${MAX_LINES}: split it by concept`,
      });
    }
    for (const { target, line } of f.imports) {
      const where = `${f.path}:${line} imports ${target}`;
      if (target.startsWith("../")) {
        out.push({ key: `outside: ${f.path} -> ${target}`, message: `${where}, outside the repo` });
        continue;
      }
      const to = groupOf(target);
      if (from === null || to === null || ALLOWED[from].includes(to)) continue;
      if (to === "tests") {
        out.push({
          key: `tests: ${f.path} -> ${target}`,
          message: `${where}: nothing outside tests/ may import from tests/`,
        });
      } else {
        out.push({
          key: `upward: ${f.path} -> ${target}`,
          message: `${where}: ${from} may import only ${ALLOWED[from].join(", ")}`,
        });
      }
    }
  }
  for (const { files: members, loop } of importCycles(files)) {
    const others = members.length > loop.length
      ? ` (files in cycles with it: ${members.join(", ")})`
      : "";
    out.push({
      key: `cycle: ${members.join(", ")}`,
      message: `import cycle: ${[...loop, loop[0]].join(" → ")}${others}`,
    });
  }
  return out;
}

/**
 * Every strongly connected set of files (Tarjan), sorted, with the shortest loop through its
 * first file as an example to show.
 */
export function importCycles(
  files: readonly SourceFile[],
): { files: string[]; loop: string[] }[] {
  const edges = new Map<string, string[]>();
  for (const f of files) edges.set(f.path, [...new Set(f.imports.map((i) => i.target))]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!edges.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || edges.get(v)!.includes(v)) components.push(component.sort());
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((c) => ({ files: c, loop: shortestLoop(c[0], new Set(c), edges) }));
}

// Breadth-first from `start` back to itself, inside one strongly connected set.
function shortestLoop(start: string, inside: Set<string>, edges: Map<string, string[]>): string[] {
  const parent = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of edges.get(v)!) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const loop = [v];
        while (loop[0] !== start) loop.unshift(parent.get(loop[0])!);
        return loop;
      }
      if (!parent.has(w)) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}

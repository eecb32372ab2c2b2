/**
 * The row-kernel skeleton shared by softmax, cross-entropy and layer norm: a contiguous
 * `[rows, len]` block processed one row at a time, either by one invocation per row or by one
 * workgroup per row with shared-memory reductions, reading scalars or `vec4`s.
 *
 * A body is written once for every variant. It walks its row with {@linkcode rowLoop} over `n`
 * items of type `V` (`f32`, or `vec4<f32>` when the plan is vectorised: `n = len / 4`), folds
 * vectors with `hsum`/`hmax`, combines the partials of a row's invocations with `row_max`,
 * `row_sum` or `row_sum2`, and guards once-per-row writes with `if (leader) { ... }`. Uniform
 * words 0 and 1 are `rows` and `len`; bodies read theirs from word 2 on, and divide element
 * offsets of `V` arrays by `W` (1 or 4).
 *
 * Which variant is fastest depends on the adapter. On llvmpipe/lavapipe a workgroup runs on one
 * CPU thread whose invocations share the SIMD lanes, and every barrier is a coroutine switch per
 * lane group: one invocation per row was 2–10x faster than a workgroup per row at every shape
 * measured (rows of 5 to 50,257 elements), and `vec4` loads about halved the time again. On
 * hardware GPUs the usual choice holds: long rows get a workgroup each so reads coalesce.
 *
 * llvmpipe also caps the loop iterations of one shader invocation at 65,535 in total (a single
 * counter shared by every loop); past it loops silently exit early. Row loops are therefore
 * unrolled four times, and {@linkcode rowPlan} falls back to a workgroup per row when one
 * invocation per row would exceed the cap (and refuses rows too long even for that, about
 * 20 million elements).
 * @module
 */
import { PARAMS_WGSL } from "./common.ts";

/** How a row kernel is launched. */
export interface RowPlan {
  /** One workgroup per row (true) or one invocation per row (false). */
  readonly tree: boolean;
  /** Invocations per workgroup (a power of two). */
  readonly wg: number;
  /** Read and write rows as `vec4<f32>` (row length and offsets multiples of 4). */
  readonly vec: boolean;
}

/** What {@linkcode rowPlan} needs to know besides the shape. */
export interface RowPlanHints {
  /** The adapter is a CPU (software) implementation. */
  readonly software: boolean;
  /** The kernel has a `vec4` form and the row length and all offsets are multiples of 4. */
  readonly vec4: boolean;
  /** How many times the kernel walks a row (its number of {@linkcode rowLoop}s). */
  readonly passes: number;
}

/** Loop iterations one llvmpipe invocation may run before its loops are cut short (with margin). */
export const SOFTWARE_LOOP_BUDGET = 60000;

/** How many times {@linkcode rowLoop} unrolls its body. */
export const ROW_UNROLL = 4;

/**
 * Loop iterations one invocation runs for a row (before the reductions' few).
 * @param plan Launch variant.
 * @param passes Row walks of the kernel.
 */
export function rowIterations(plan: RowPlan, len: number, passes: number): number {
  const items = Math.ceil(len / (plan.vec ? 4 : 1) / (plan.tree ? plan.wg : 1));
  return passes * (Math.ceil(items / ROW_UNROLL) + ROW_UNROLL - 1);
}

/**
 * Picks the variant for a `[rows, len]` block (see the module notes for the measurements).
 * @param hints Adapter kind and whether `vec4` access is possible.
 */
export function rowPlan(rows: number, len: number, hints: RowPlanHints): RowPlan {
  const vec = hints.vec4 && len % 4 === 0 && len > 0;
  if (hints.software) {
    // Small workgroups when rows are few, so that every CPU core gets some.
    const plan = { tree: false, wg: rows >= 1024 ? 64 : 16, vec };
    if (rowIterations(plan, len, hints.passes) <= SOFTWARE_LOOP_BUDGET) return plan;
    const tree = { tree: true, wg: 256, vec };
    if (rowIterations(tree, len, hints.passes) > SOFTWARE_LOOP_BUDGET) {
      throw new RangeError(`Rows of ${len} elements exceed the loop limit of software adapters`);
    }
    return tree;
  }
  if (len >= 256 || (rows < 128 && len >= 64)) {
    return { tree: true, wg: len >= 2048 ? 256 : 64, vec };
  }
  return { tree: false, wg: 64, vec };
}

/**
 * Workgroup counts of a plan.
 * @returns Workgroups covering every row (folded into 2-D past 65,535).
 */
export function rowWorkgroups(plan: RowPlan, rows: number): [number, number, number] {
  const groups = plan.tree ? Math.max(1, rows) : Math.max(1, Math.ceil(rows / plan.wg));
  if (groups <= 65535) return [groups, 1, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y, 1];
}

/**
 * Cache-key suffix of a plan.
 * @returns E.g. `tree64:v4` or `rows16:v1`.
 */
export function rowKeySuffix(plan: RowPlan): string {
  return `${plan.tree ? "tree" : "rows"}${plan.wg}:v${plan.vec ? 4 : 1}`;
}

/**
 * WGSL of a walk over this invocation's items of the row, unrolled {@linkcode ROW_UNROLL}
 * times (each copy in its own block, so `let`s do not clash). Copy `k` may accumulate into its
 * own variable (see {@linkcode accDecl}): independent chains run in parallel on a CPU and
 * shorten float32 summation error; the remainder loop uses copy 0.
 * @param stmt Statements for an item index expression (a `u32`) and a copy number.
 */
export function rowLoop(stmt: (j: string, k: number) => string): string {
  const copies = Array.from(
    { length: ROW_UNROLL },
    (_, k) => `{ ${stmt(k === 0 ? "j" : `(j + ${k}u * js)`, k)} }`,
  );
  return `{
    var j = j0;
    for (; j + ${ROW_UNROLL - 1}u * js < n; j = j + ${ROW_UNROLL}u * js) {
      ${copies.join("\n      ")}
    }
    for (; j < n; j = j + js) { ${stmt("j", 0)} }
  }`;
}

/**
 * Declares one accumulator per unrolled copy: `name0`, `name1`, ...
 * @param init Initial value (its type is inferred).
 */
export function accDecl(name: string, init: string): string {
  return Array.from({ length: ROW_UNROLL }, (_, k) => `var ${name}${k} = ${init};`).join(" ");
}

/**
 * Combines the accumulators of {@linkcode accDecl} pairwise.
 * @param op `+` or `max`.
 */
export function accTotal(name: string, op: "+" | "max"): string {
  let terms = Array.from({ length: ROW_UNROLL }, (_, k) => `${name}${k}`);
  while (terms.length > 1) {
    const next: string[] = [];
    for (let i = 0; i < terms.length; i += 2) {
      next.push(
        op === "+" ? `(${terms[i]} + ${terms[i + 1]})` : `max(${terms[i]}, ${terms[i + 1]})`,
      );
    }
    terms = next;
  }
  return terms[0];
}

// Workgroup tree reduction; the trailing barrier lets the buffer be reused by the next call.
function treeReduce(
  name: string,
  type: string,
  buf: string,
  combine: (a: string, b: string) => string,
  wg: number,
): string {
  return `
fn ${name}(v: ${type}) -> ${type} {
  ${buf}[LID] = v;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s = s >> 1u) {
    if (LID < s) { ${buf}[LID] = ${combine(`${buf}[LID]`, `${buf}[LID + s]`)}; }
    workgroupBarrier();
  }
  let r = ${buf}[0];
  workgroupBarrier();
  return r;
}`;
}

function vectorHelpers(vec: boolean): string {
  if (!vec) {
    return `alias V = f32;
fn hsum(v: f32) -> f32 { return v; }
fn hmax(v: f32) -> f32 { return v; }`;
  }
  return `alias V = vec4<f32>;
fn hsum(v: vec4<f32>) -> f32 { return (v.x + v.y) + (v.z + v.w); }
fn hmax(v: vec4<f32>) -> f32 { return max(max(v.x, v.y), max(v.z, v.w)); }`;
}

/**
 * WGSL of a row kernel. Inside `body`: `row`, `len` (elements), `W` (1 or 4), `n = len / W`,
 * `j0`/`js` (loop start and step of this invocation), `leader` (true on the one invocation that
 * writes per-row values), the type alias `V`, `hsum(V)`/`hmax(V)`, and `row_max(f32)`,
 * `row_sum(f32)`, `row_sum2(vec2<f32>)`. Reductions must be called in uniform control flow (not
 * inside an `if` or the row loop).
 * @param plan Launch variant.
 * @param decls Binding declarations (may use `V`) and helper functions.
 * @param body Statements run for one row.
 */
export function rowKernelWgsl(plan: RowPlan, decls: string, body: string): string {
  const wg = plan.wg;
  const common = `${PARAMS_WGSL}
${vectorHelpers(plan.vec)}
${decls}`;
  const entry = `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {`;
  const sizes = `  let len = pu(1u);
  let W = ${plan.vec ? 4 : 1}u;
  let n = len / W;`;
  if (!plan.tree) {
    return `${common}
fn row_max(v: f32) -> f32 { return v; }
fn row_sum(v: f32) -> f32 { return v; }
fn row_sum2(v: vec2<f32>) -> vec2<f32> { return v; }
${entry}
  let row = (wid.y * nwg.x + wid.x) * ${wg}u + lid;
  if (row >= pu(0u)) { return; }
${sizes}
  let j0 = 0u;
  let js = 1u;
  let leader = true;
${body}
}`;
  }
  return `${common}
var<private> LID: u32;
var<workgroup> red1: array<f32, ${wg}>;
var<workgroup> red2: array<vec2<f32>, ${wg}>;
${treeReduce("row_max", "f32", "red1", (a, b) => `max(${a}, ${b})`, wg)}
${treeReduce("row_sum", "f32", "red1", (a, b) => `${a} + ${b}`, wg)}
${treeReduce("row_sum2", "vec2<f32>", "red2", (a, b) => `${a} + ${b}`, wg)}
${entry}
  // The row index is the same for the whole workgroup, so this return keeps barriers uniform.
  let row = wid.y * nwg.x + wid.x;
  if (row >= pu(0u)) { return; }
  LID = lid;
${sizes}
  let j0 = lid;
  let js = ${wg}u;
  let leader = lid == 0u;
${body}
}`;
}

/**
 * The tape: recording op outputs, `noGrad`, `detach`, and the reverse walk of `backward`.
 *
 * The walk sums gradients and copies leaf gradients with kernels of the op layer, which sits
 * above this core module; `engine/ops/tape.ts` installs them ({@linkcode GradArithmetic}) and
 * every op takes `record` from there, so a tensor with a tape entry always finds them.
 * @module
 */
import { _installTensorMethods, ADDED, type GradNode, type GradResult, Tensor } from "./tensor.ts";
import { upload } from "./alloc.ts";
import { keep } from "./scope.ts";
import { fmtShape } from "./shape.ts";

/** The op-layer arithmetic the reverse walk needs; all of it runs under {@linkcode noGrad}. */
export interface GradArithmetic {
  /** A new tensor `a + b` (same shapes): two gradients reaching one input. */
  add(a: Tensor, b: Tensor): Tensor;
  /** `dst += src` in place: a leaf's gradient accumulating over calls. */
  addInto(dst: Tensor, src: Tensor): void;
  /** A contiguous copy in storage of its own, so that later accumulation can write in place. */
  clone(t: Tensor): Tensor;
}

let arithmetic: GradArithmetic | null = null;

/**
 * Installs the walk's arithmetic; called once by `engine/ops/tape.ts`.
 * @internal
 */
export function _installGradArithmetic(a: GradArithmetic): void {
  arithmetic = a;
}

function arith(): GradArithmetic {
  if (arithmetic === null) throw new Error("backward() needs the op layer (engine/ops/) loaded");
  return arithmetic;
}

let gradEnabled = true;

/**
 * Whether ops currently record onto the tape.
 * @returns True outside {@linkcode noGrad}.
 */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording gradients. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * The same values without a tape entry: gradients never flow through the result (it shares
 * storage with `t`; no copy).
 * @returns A leaf view with `requiresGrad` false.
 */
export function detach(t: Tensor): Tensor {
  return alias(t);
}

// Another view of the same storage and layout.
function alias(t: Tensor): Tensor {
  t.assertLive("view");
  t.storage.retain();
  return new Tensor(t.storage, t.shape, t.strides, t.offset);
}

/**
 * Attaches a tape entry to an op's output when recording is on and an input needs gradients.
 * @param out The op's output.
 * @param inputs The op's tensor inputs.
 * @param backward Output gradient → one gradient per input.
 */
export function record(
  out: Tensor,
  op: string,
  inputs: readonly Tensor[],
  backward: (grad: Tensor, sinks: readonly (Tensor | null)[]) => readonly GradResult[],
): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, inputs, backward } satisfies GradNode;
  }
  return out;
}

/** Options of {@linkcode backward}. */
export interface BackwardOptions {
  /** Keep the tape so that another `backward()` can walk the same graph (default false). */
  retainGraph?: boolean;
}

// Tensors whose tape entry a walk freed: another walk through them would find none and stop
// there silently, so it throws instead.
const walked = new WeakSet<Tensor>();

function freedGraphError(t: Tensor, what: string): Error {
  return new Error(
    `backward() cannot walk ${what} of shape "${
      fmtShape(t.shape)
    }": an earlier backward() through it freed its graph. Call backward() once per graph, or ` +
      `pass { retainGraph: true } to the earlier call`,
  );
}

/**
 * Back-propagates `upstream` (default 1 for a scalar) from `root` through the tape. Leaf
 * gradients accumulate into `.grad` (kept alive outside any `tidy` scope); intermediate
 * gradients are disposed as soon as they are consumed; the graph is freed afterwards unless
 * `options.retainGraph` is set. Walking a graph that was freed — by an earlier `backward()`, or
 * by the `tidy()` that built it disposing its intermediate tensors — throws and says which.
 * @param root Where the walk starts.
 * @param upstream Gradient w.r.t. `root`, same shape.
 */
export function backward(root: Tensor, upstream?: Tensor, options: BackwardOptions = {}): void {
  root.assertLive("back-propagate from");
  if (walked.has(root)) throw freedGraphError(root, "from a tensor");
  if (!root.requiresGrad) {
    throw new Error(
      `backward() on a tensor of shape "${fmtShape(root.shape)}" that does not require grad`,
    );
  }
  if (upstream === undefined) {
    if (root.size !== 1) {
      throw new RangeError(
        `backward() without upstream needs a scalar, got shape "${fmtShape(root.shape)}"`,
      );
    }
  } else if (fmtShape(upstream.shape) !== fmtShape(root.shape)) {
    throw new RangeError(
      `Upstream gradient shape "${fmtShape(upstream.shape)}" differs from tensor shape "${
        fmtShape(root.shape)
      }"`,
    );
  }
  const order = topoOrder(root);
  const grads = new Map<Tensor, Tensor>();
  noGrad(() => {
    grads.set(root, upstream ?? upload([1], root.shape, "float32", root.backend));
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      if (g === undefined) continue;
      grads.delete(t);
      if (t.node === null) {
        accumulateLeaf(t, g, g !== upstream);
        continue;
      }
      const inputs = t.node.inputs;
      const sinks = inputs.map((input, k) => sinkOf(input, k, inputs, grads, g, upstream));
      const raw = t.node.backward(g, sinks);
      // A rule may hand back `g` itself or one tensor for several inputs: give each consumer its
      // own view, so disposing one never frees another's storage.
      const handed = new Set<Tensor>([g]);
      const inputGrads = raw.map((r) => {
        if (r === null || r === ADDED) return r;
        if (handed.has(r)) return alias(r);
        handed.add(r);
        return r;
      });
      inputs.forEach((input, k) => {
        const gi = inputGrads[k];
        if (gi === ADDED) {
          if (sinks[k] === null) {
            throw new Error(`Backward of "${t.node!.op}" added into input ${k}, which has no sink`);
          }
          return;
        }
        if (!gi) return;
        if (!input.requiresGrad) {
          gi.dispose();
          return;
        }
        if (fmtShape(gi.shape) !== fmtShape(input.shape)) {
          throw new Error(
            `Backward of "${t.node!.op}" gave gradient "${fmtShape(gi.shape)}" for input "${
              fmtShape(input.shape)
            }"`,
          );
        }
        const prev = grads.get(input);
        if (prev === undefined) grads.set(input, gi);
        else {
          grads.set(input, arith().add(prev, gi));
          prev.dispose();
          gi.dispose();
        }
      });
      if (g !== upstream) g.dispose();
    }
  });
  if (options.retainGraph) return;
  for (const t of order) {
    if (t.node === null) continue;
    t.node = null;
    walked.add(t);
  }
}

// Where input k's gradient may be added in place: a leaf's `.grad`, or the sum collected so far
// when nothing else can see it (its storage has one reference, it is not the caller's upstream).
// Only the first occurrence of an input gets one, so one rule never writes a sink twice.
function sinkOf(
  input: Tensor,
  k: number,
  inputs: readonly Tensor[],
  grads: ReadonlyMap<Tensor, Tensor>,
  g: Tensor,
  upstream: Tensor | undefined,
): Tensor | null {
  if (!input.requiresGrad || inputs.indexOf(input) !== k) return null;
  const sink = input.node === null ? input.grad : grads.get(input) ?? null;
  if (sink === null || sink.disposed || !sink.isContiguous || sink.dtype !== "float32") return null;
  if (sink.storage === g.storage) return null;
  if (input.node !== null && (sink === upstream || sink.storage.refs !== 1)) return null;
  return sink;
}

function accumulateLeaf(t: Tensor, g: Tensor, owned: boolean): void {
  if (t.grad === null) {
    // Later accumulation writes in place, so .grad must own contiguous, unshared storage.
    const exclusive = owned && g.storage.refs === 1 && g.isContiguous && g.offset === 0;
    // clone(), not materialize(): a dense view would come back unchanged, still shared.
    t.grad = keep(exclusive ? g : arith().clone(g));
    if (!exclusive && owned) g.dispose();
  } else {
    arith().addInto(t.grad, g);
    if (owned) g.dispose();
  }
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [t, k] = top;
    const inputs = t.node?.inputs ?? [];
    if (k < inputs.length) {
      top[1]++;
      const next = inputs[k];
      if (next.requiresGrad && !seen.has(next)) {
        if (next.disposed) {
          throw new Error(
            `backward() cannot walk the graph: input ${k} of "${t.node!.op}" (shape "${
              fmtShape(next.shape)
            }") was disposed, e.g. by the tidy() that built the graph. Call backward() inside ` +
              `that tidy(), or keep() what it returns and dispose it after backward()`,
          );
        }
        if (walked.has(next)) throw freedGraphError(next, `input ${k} of "${t.node!.op}"`);
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

_installTensorMethods({ backward });

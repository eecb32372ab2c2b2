/**
 * Differentiable elementwise ops with broadcasting: each forward runs an expression of the
 * table in `elementwise_raw.ts` (WGSL and float64 reference), and its backward rule sits here.
 * @module
 */
import { fmtShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { elementwise } from "./elementwise_raw.ts";
import { sumTo } from "./reduce.ts";
import { record } from "./tape.ts";

// The kernel runner and accumulation keep being importable from here, where callers look first.
export { addInto, elementwise, onesLike } from "./elementwise_raw.ts";

function unary(name: string, x: Tensor, grad: (g: Tensor, out: Tensor) => Tensor, s = 0): Tensor {
  const out = elementwise(name, [x], s);
  return record(out, name, [x], (g) => [grad(g, out)]);
}

/** `-x`. */
export function neg(x: Tensor): Tensor {
  return unary("neg", x, (g) => elementwise("neg", [g]));
}

/** `e^x`. */
export function exp(x: Tensor): Tensor {
  return unary("exp", x, (g, out) => elementwise("mul", [g, out]));
}

/**
 * Natural logarithm.
 * @returns `ln x`.
 */
export function log(x: Tensor): Tensor {
  return unary("log", x, (g) => elementwise("div", [g, x]));
}

/**
 * Square root.
 * @returns `√x`.
 */
export function sqrt(x: Tensor): Tensor {
  return unary("sqrt", x, (g, out) => {
    const half = elementwise("muls", [g], 0.5);
    const r = elementwise("div", [half, out]);
    half.dispose();
    return r;
  });
}

/** `max(x, 0)`. */
export function relu(x: Tensor): Tensor {
  return unary("relu", x, (g) => elementwise("relu_grad", [x, g]));
}

/**
 * Hyperbolic tangent.
 * @returns `tanh x`.
 */
export function tanh(x: Tensor): Tensor {
  return unary("tanh", x, (g, out) => elementwise("tanh_grad", [out, g]));
}

/**
 * GELU in GPT-2's tanh approximation.
 * @returns `0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))`.
 */
export function gelu(x: Tensor): Tensor {
  return unary("gelu", x, (g) => elementwise("gelu_grad", [x, g]));
}

/** `x^p` for a scalar exponent (negative bases allowed for integer `p`). */
export function pow(x: Tensor, p: number): Tensor {
  return unary("pows", x, (g) => elementwise("pows_grad", [x, g], p), p);
}

function binary(
  name: string,
  a: Tensor,
  b: Tensor,
  grads: (g: Tensor, out: Tensor) => [Tensor | null, Tensor | null],
): Tensor {
  const out = elementwise(name, [a, b]);
  return record(out, name, [a, b], (g) => {
    const [ga, gb] = grads(g, out);
    return [ga && reduceTo(ga, a, g), gb && reduceTo(gb, b, g)];
  });
}

// Sums a broadcast gradient back to an input's shape, disposing the intermediate unless it is
// the upstream gradient itself (which autograd still owns).
function reduceTo(g: Tensor, target: Tensor, upstream: Tensor): Tensor {
  if (fmtShape(g.shape) === fmtShape(target.shape)) return g;
  const r = sumTo(g, target.shape);
  if (g !== upstream) g.dispose();
  return r;
}

/** `a + b` with broadcasting (`b` may be a number). */
export function add(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === "number") return unary("adds", a, (g) => g, b);
  return binary("add", a, b, (g) => [g, g]);
}

/** `a - b` with broadcasting (`b` may be a number). */
export function sub(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === "number") return unary("adds", a, (g) => g, -b);
  return binary("sub", a, b, (g) => [g, elementwise("neg", [g])]);
}

/** `a * b` with broadcasting (`b` may be a number). */
export function mul(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === "number") return unary("muls", a, (g) => elementwise("muls", [g], b), b);
  return binary("mul", a, b, (g) => [
    a.requiresGrad ? elementwise("mul", [g, b]) : null,
    b.requiresGrad ? elementwise("mul", [g, a]) : null,
  ]);
}

/** `a / b` with broadcasting (`b` may be a number). */
export function div(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === "number") return mul(a, 1 / b);
  return binary("div", a, b, (g, out) => {
    let gb: Tensor | null = null;
    if (b.requiresGrad) {
      const q = elementwise("div", [out, b]);
      const m = elementwise("mul", [g, q]);
      gb = elementwise("neg", [m]);
      q.dispose();
      m.dispose();
    }
    return [a.requiresGrad ? elementwise("div", [g, b]) : null, gb];
  });
}

/**
 * Elementwise maximum (the gradient goes to `a` where `a ≥ b`, else to `b`).
 * @returns `max(a, b)`.
 */
export function maximum(a: Tensor, b: Tensor): Tensor {
  return binary("maximum", a, b, (g) => {
    const m = elementwise("ge", [a, b]);
    const ga = elementwise("mul", [g, m]);
    const gb = elementwise("sub", [g, ga]);
    m.dispose();
    return [ga, gb];
  });
}

/**
 * Picks `a` where `mask ≠ 0`, else `b` (all three broadcast). No gradient flows to the mask.
 * @param mask Condition (float, nonzero = true).
 * @param a Values where true.
 * @param b Values where false.
 */
export function where(mask: Tensor, a: Tensor, b: Tensor): Tensor {
  const out = elementwise("where", [mask, a, b]);
  return record(out, "where", [mask, a, b], (g) => {
    const zero = elementwise("muls", [g], 0);
    const ga = a.requiresGrad ? reduceTo(elementwise("where", [mask, g, zero]), a, g) : null;
    const gb = b.requiresGrad ? reduceTo(elementwise("where", [mask, zero, g]), b, g) : null;
    zero.dispose();
    return [null, ga, gb];
  });
}

/** A mask (1/0) of `a > b`, without gradient. */
export function greater(a: Tensor, b: Tensor): Tensor {
  return elementwise("gt", [a, b]);
}

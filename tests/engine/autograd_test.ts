import { deepStrictEqual, ok, throws } from "node:assert/strict";
import { CPU } from "../../engine/backend.ts";
import { detach, noGrad } from "../../engine/autograd.ts";
import { tensor } from "../../engine/ops/creation.ts";
import { add, mul } from "../../engine/ops/elementwise.ts";
import { sum } from "../../engine/ops/reduce.ts";
import { tidy } from "../../engine/scope.ts";

const o = { backend: CPU, requiresGrad: true };

Deno.test("`detach()` stops gradients but keeps values", async () => {
  const x = tensor([1, 2, 3], undefined, o);
  tidy(() => sum(mul(x, detach(mul(x, 2)))).backward());
  // d/dx Σ x·c with c = 2x held constant is c = 2x.
  deepStrictEqual(Array.from(await x.grad!.toArray()), [2, 4, 6]);
});

Deno.test("`backward()` accumulates over fan-out and across calls", async () => {
  const x = tensor([1, -2], undefined, o);
  tidy(() => sum(add(mul(x, x), x)).backward());
  deepStrictEqual(Array.from(await x.grad!.toArray()), [3, -3]);
  tidy(() => sum(mul(x, 3)).backward());
  deepStrictEqual(Array.from(await x.grad!.toArray()), [6, 0]);
});

Deno.test("`backward(upstream)` takes a gradient of any shape and checks it", async () => {
  const x = tensor([[1, 2], [3, 4]], undefined, o);
  const y = mul(x, x);
  throws(
    () => y.backward(tensor([1, 2], undefined, { backend: CPU })),
    /Upstream gradient shape "\[2\]" differs/,
  );
  y.backward(tensor([[1, 0], [0, 1]], undefined, { backend: CPU }));
  deepStrictEqual(Array.from(await x.grad!.toArray()), [2, 0, 0, 8]);
});

Deno.test("`noGrad()` records nothing and a disposed tensor cannot be used", () => {
  const x = tensor([1, 2], undefined, o);
  const y = noGrad(() => mul(x, 2));
  ok(!y.requiresGrad);
  throws(() => sum(y).backward(), /does not require grad/);
  x.dispose();
  throws(() => mul(x, 2), /disposed tensor of shape "\[2\]"/);
});

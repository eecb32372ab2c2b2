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

Deno.test("the engine core works alone for a leaf and names the op layer when it is missing", async () => {
  // A child process loads core modules only: the tape's arithmetic and the strided copy belong
  // to engine/ops/, which installs them into the core when loaded; here nothing loads it.
  const at = (file: string): string => new URL(`../../engine/${file}`, import.meta.url).href;
  const code = `
    import { upload } from "${at("alloc.ts")}";
    import { Tensor } from "${at("tensor.ts")}";
    const out = [];
    const attempt = (f) => { try { f(); out.push("ok"); } catch (e) { out.push(e.message); } };
    const x = upload([3], [1]);
    x.requiresGrad = true;
    attempt(() => x.backward());
    await import("${at("autograd.ts")}");
    attempt(() => x.backward());
    out.push(Array.from(await x.grad.toArray()));
    attempt(() => x.backward());
    const y = upload([1, 2, 3, 4], [4]);
    const strided = new Tensor(y.storage, [2], [2], 0);
    await strided.toArray().then(() => out.push("ok"), (e) => out.push(e.message));
    console.log(JSON.stringify(out));
  `;
  const run = await new Deno.Command(Deno.execPath(), { args: ["eval", "--ext=js", code] })
    .output();
  const stderr = new TextDecoder().decode(run.stderr);
  ok(run.success, stderr);
  deepStrictEqual(JSON.parse(new TextDecoder().decode(run.stdout)), [
    "backward() needs engine/autograd.ts loaded",
    "ok",
    [1],
    "backward() needs the op layer (engine/ops/) loaded",
    'Reading a strided view of shape "[2]" needs engine/ops/copy.ts loaded',
  ]);
});

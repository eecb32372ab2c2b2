// A backward() through a graph that is gone throws and says why, instead of leaving gradients
// null (a graph freed by tidy) or doing nothing (a second backward without retainGraph).
import { deepStrictEqual, throws } from "node:assert/strict";
import { CPU } from "../../engine/backend.ts";
import { tensor } from "../../engine/ops/creation.ts";
import { mul } from "../../engine/ops/elementwise.ts";
import { sum } from "../../engine/ops/reduce.ts";
import { keep, tidy } from "../../engine/scope.ts";

const o = { backend: CPU, requiresGrad: true };

Deno.test("`backward()` on a loss whose graph tidy() freed throws and names the freed input", () => {
  const x = tensor([1, 2, 3], undefined, o);
  const loss = tidy(() => sum(mul(x, x)));
  throws(() => loss.backward(), (e: Error) => {
    deepStrictEqual(
      e.message,
      `backward() cannot walk the graph: input 0 of "sum" (shape "[3]") was disposed, e.g. by ` +
        `the tidy() that built the graph. Call backward() inside that tidy(), or keep() what it ` +
        `returns and dispose it after backward()`,
    );
    return true;
  });
  deepStrictEqual(x.grad, null);
  loss.dispose();
});

Deno.test("a graph kept out of tidy() still back-propagates", async () => {
  const x = tensor([1, 2, 3], undefined, o);
  const { loss, sq } = tidy(() => {
    const sq = keep(mul(x, x));
    return { loss: sum(sq), sq };
  });
  loss.backward();
  deepStrictEqual(Array.from(await x.grad!.toArray()), [2, 4, 6]);
  for (const t of [loss, sq]) t.dispose();
});

Deno.test("a second `backward()` without retainGraph throws; with it, gradients add up", async () => {
  const x = tensor([1, 2], undefined, o);
  const loss = sum(mul(x, x));
  loss.backward();
  throws(() => loss.backward(), (e: Error) => {
    deepStrictEqual(
      e.message,
      `backward() cannot walk from a tensor of shape "[]": an earlier backward() through it ` +
        `freed its graph. Call backward() once per graph, or pass { retainGraph: true } to the ` +
        `earlier call`,
    );
    return true;
  });
  deepStrictEqual(Array.from(await x.grad!.toArray()), [2, 4], "the second call added nothing");
  const y = tensor([3], undefined, o);
  const l2 = sum(mul(y, y));
  l2.backward(undefined, { retainGraph: true });
  l2.backward();
  deepStrictEqual(Array.from(await y.grad!.toArray()), [12]);
  throws(() => l2.backward(), /freed its graph/);
});

Deno.test("a second loss through a subgraph an earlier `backward()` freed throws", () => {
  const x = tensor([1, 2], undefined, o);
  const shared = mul(x, x);
  sum(shared).backward();
  throws(
    () => sum(mul(shared, 2)).backward(),
    /cannot walk input 0 of "\w+" of shape "\[2\]": an earlier backward\(\) through it freed/,
  );
});

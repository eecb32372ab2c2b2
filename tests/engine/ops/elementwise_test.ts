import { checkOp } from "../../_check.ts";
import {
  add,
  div,
  exp,
  gelu,
  log,
  maximum,
  mul,
  neg,
  pow,
  relu,
  sqrt,
  sub,
  tanh,
  where,
} from "../../../engine/ops/elementwise.ts";
import { slice, transpose } from "../../../engine/ops/view.ts";

const odd: [number, number] = [7, 13];

checkOp({
  name: "`add()` broadcasts a row over a matrix",
  inputs: [[5, 7, 13], [13]],
  fn: ([a, b]) => add(a, b),
});
checkOp({
  name: "`add()` broadcasts a column and a row",
  inputs: [[6, 1], [1, 9]],
  fn: ([a, b]) => add(a, b),
});
checkOp({ name: "`add()` adds a scalar", inputs: [odd], fn: ([a]) => add(a, 2.5) });
checkOp({
  name: "`sub()` broadcasts a leading dimension",
  inputs: [[3, 7, 5], [7, 5]],
  fn: ([a, b]) => sub(a, b),
});
checkOp({
  name: "`mul()` multiplies a transposed view",
  inputs: [odd, [13, 7]],
  fn: ([a, b]) => mul(a, transpose(b)),
});
checkOp({ name: "`mul()` multiplies by a scalar", inputs: [odd], fn: ([a]) => mul(a, -3) });
checkOp({
  name: "`div()` divides by a positive broadcast vector",
  inputs: [odd, [13]],
  range: [0.5, 2],
  fn: ([a, b]) => div(a, b),
});
checkOp({
  name: "`neg()` negates a slice",
  inputs: [[9, 11]],
  fn: ([a]) => neg(slice(a, [2, 3], [7, 10])),
});
checkOp({ name: "`exp()` of a 1-element tensor", inputs: [[1]], fn: ([a]) => exp(a) });
checkOp({ name: "`exp()` of odd shapes", inputs: [odd], fn: ([a]) => exp(a) });
checkOp({
  name: "`log()` of positive values",
  inputs: [odd],
  range: [0.3, 3],
  fn: ([a]) => log(a),
});
checkOp({
  name: "`sqrt()` of positive values",
  inputs: [odd],
  range: [0.3, 3],
  fn: ([a]) => sqrt(a),
});
checkOp({ name: "`pow()` squares negative values", inputs: [odd], fn: ([a]) => pow(a, 2) });
checkOp({ name: "`pow()` cubes negative values", inputs: [odd], fn: ([a]) => pow(a, 3) });
checkOp({
  name: "`pow()` takes -0.5 powers of positive values",
  inputs: [odd],
  range: [0.3, 3],
  fn: ([a]) => pow(a, -0.5),
});
checkOp({
  name: "`relu()` away from the kink",
  inputs: [{ shape: [6], values: [-2, -1, -0.3, 0.4, 1, 3] }],
  fn: ([a]) => relu(a),
});
checkOp({ name: "`tanh()` of odd shapes", inputs: [odd], fn: ([a]) => tanh(a) });
checkOp({
  name: "`tanh()` saturates without NaN",
  inputs: [{ shape: [4], values: [-80, -20, 20, 80] }],
  fn: ([a]) => tanh(a),
});
checkOp({ name: "`gelu()` of odd shapes", inputs: [odd], range: [-4, 4], fn: ([a]) => gelu(a) });
checkOp({
  name: "`maximum()` of distinct values",
  inputs: [{ shape: [5], values: [1, -2, 3, 0.5, -1] }, {
    shape: [5],
    values: [0, -1, 4, 0.25, -3],
  }],
  fn: ([a, b]) => maximum(a, b),
});
checkOp({
  name: "`where()` selects with a broadcast mask",
  inputs: [{ shape: [1, 5], values: [1, 0, 1, 0, 0], grad: false }, [4, 5], [4, 1]],
  fn: ([m, a, b]) => where(m, a, b),
});

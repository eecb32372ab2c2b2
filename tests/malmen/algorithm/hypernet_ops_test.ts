import { checkOp } from "../../_check.ts";
import { residualTail, valueDiff } from "../../../malmen/algorithm/hypernet_ops.ts";
import { reshape, slice } from "../../../engine/ops/view.ts";

checkOp({
  name: "`residualTail()` of odd shapes",
  inputs: [[7, 13], [7, 13], [13], [13], [13]],
  fn: ([h, q, b, s, t]) => residualTail(h, q, b, s, t),
});
checkOp({
  name: "`residualTail()` reads row slices of the scale and shift tables",
  inputs: [[5, 9], [5, 9], [9], [3, 9], [3, 9]],
  fn: ([h, q, b, s, t]) =>
    residualTail(
      h,
      q,
      b,
      reshape(slice(s, [1, 0], [2, 9]), [9]),
      reshape(slice(t, [2, 0], [3, 9]), [9]),
    ),
});
checkOp({
  name: "`valueDiff()` of odd shapes",
  inputs: [[7, 5], [7, 11], { shape: [1], values: [0.7] }],
  fn: ([u, h, e]) => valueDiff(u, h, e),
});

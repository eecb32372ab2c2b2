// Shared by the journal fault-injection test and its child process.
import { CPU } from "../../../engine/backend.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import type { Tensor } from "../../../engine/tensor.ts";
import type { EditInfo } from "../../../malmen/editors/journal_log.ts";

/**
 * The shifts of edit `id` for the tests' tiny LM (FFN width 32, d 8, two blocks): every value
 * tells its edit, layer and position apart.
 */
export function killedEdit(id: number): Map<number, Tensor> {
  return new Map([0, 1].map((layer) => [
    layer,
    tensor(
      Float64Array.from({ length: 256 }, (_, i) => id * 100 + layer * 10 + i / 64),
      [32, 8],
      { backend: CPU },
    ),
  ]));
}

/** What every edit of the test records. */
export const KILLED_INFO: EditInfo = {
  editor: "malmen",
  m: 1,
  records: `sha256:${"f6".repeat(32)}`,
  lm: null,
  input: "edits.json",
};

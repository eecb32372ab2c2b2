/**
 * The op layer's side of the tape. The reverse walk in `engine/autograd.ts` belongs to the core,
 * which imports nothing above itself, yet it must add gradients and copy leaf gradients with this
 * layer's kernels: this module installs them there. Every op takes `record` from here, so any
 * tensor with a tape entry comes from a program whose walk is complete.
 * @module
 */
import { _installGradArithmetic, record } from "../autograd.ts";
import { clone } from "./copy.ts";
import { addInto, elementwise } from "./elementwise_raw.ts";

_installGradArithmetic({ add: (a, b) => elementwise("add", [a, b]), addInto, clone });

export { record };

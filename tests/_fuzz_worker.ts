// The fuzz worker: mutates valid inputs of one parser and classifies each outcome (see _fuzz.ts).
import { decodeSafetensors, encodeSafetensors } from "../engine/io/safetensors.ts";
import { parseEditRecords } from "../malmen/data/edit_records.ts";
import { type FuzzJob, type FuzzResult, fuzzRng, mutate } from "./_fuzz.ts";
import { COUNTERFACT_RAW, toJsonl, ZSRE_RAW } from "./malmen/data/_fixtures.ts";

const text = new TextEncoder();

// Valid inputs and the parser of each target; the parser returns or throws.
const TARGETS = {
  "edit-records": {
    source: "fuzz.json",
    samples: [
      text.encode(JSON.stringify(COUNTERFACT_RAW)),
      text.encode(toJsonl(COUNTERFACT_RAW)),
      text.encode(JSON.stringify(ZSRE_RAW, null, 1)),
    ],
    parse: (b: Uint8Array) => parseEditRecords(new TextDecoder().decode(b), "fuzz.json"),
  },
  "safetensors": {
    source: "fuzz.safetensors",
    samples: [
      encodeSafetensors({
        "h.0.mlp.c_proj.shift": {
          dtype: "F32",
          shape: [2, 3],
          data: new Float32Array(6).fill(0.5),
        },
        ids: { dtype: "I32", shape: [3], data: new Int32Array([1, -2, 3]) },
        half: { dtype: "F16", shape: [2], data: new Float32Array([1, -2]) },
        empty: { dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
      }, { editor: "malmen", m: "2" }),
      encodeSafetensors({
        big: { dtype: "I64", shape: [2], data: new Int32Array([7, -7]) },
        b: { dtype: "BF16", shape: [1, 1], data: new Float32Array([3]) },
        scalar: { dtype: "F32", shape: [], data: new Float32Array([9]) },
      }),
    ],
    parse: (b: Uint8Array) => decodeSafetensors(b, "fuzz.safetensors", { copy: true }),
  },
} as const;

// A worker's global scope (the project's types describe a window).
const scope = globalThis as unknown as {
  onmessage: (e: MessageEvent<FuzzJob>) => void;
  postMessage(result: FuzzResult): void;
};

scope.onmessage = (e) => {
  const { target, seed, iterations } = e.data;
  const t = TARGETS[target];
  const random = fuzzRng(seed);
  const result: FuzzResult = { parsed: 0, refused: 0, failures: [] };
  for (let i = 0; i < iterations; i++) {
    const input = mutate(t.samples[Math.floor(random() * t.samples.length)], random);
    try {
      t.parse(input);
      result.parsed++;
    } catch (error) {
      const clear = (error instanceof TypeError || error instanceof RangeError) &&
        error.message.startsWith(`${t.source}: `);
      if (clear) result.refused++;
      else {
        result.failures.push({
          iteration: i,
          error: String(error),
          input: new TextDecoder("latin1").decode(input.subarray(0, 300)),
        });
      }
    }
  }
  scope.postMessage(result);
};

import assert from "node:assert/strict";
import { decodeSafetensors, type SafeTensor } from "../../../engine/io/safetensors/decode.ts";
import {
  encodeSafetensors,
  planSafetensors,
  safetensorsChunks,
  tensorToBytes,
} from "../../../engine/io/safetensors/encode.ts";
import { assertThrowsWith, concat, f32Bytes, lengthPrefix } from "./_helpers.ts";

function headerText(bytes: Uint8Array): string {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return new TextDecoder().decode(bytes.subarray(8, 8 + length));
}

Deno.test("`encodeSafetensors()` produces the exact bytes of a known tiny file", () => {
  const bytes = encodeSafetensors({
    b: { dtype: "I32", shape: [1, 1], data: new Int32Array([258]) },
    a: { dtype: "F32", shape: [2], data: new Float32Array([1, -2]) },
  }, { format: "pt" });
  const json = '{"__metadata__":{"format":"pt"},' +
    '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"b":{"dtype":"I32","shape":[1,1],"data_offsets":[8,12]}}';
  const expected = concat(
    lengthPrefix(144),
    new TextEncoder().encode(json.padEnd(144, " ")),
    new Uint8Array([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]),
    new Uint8Array([0x02, 0x01, 0x00, 0x00]),
  );
  assert.deepEqual(bytes, expected);
});

Deno.test("`encodeSafetensors()` round-trips F32 and I32 tensors with metadata", () => {
  const tensors = new Map<string, SafeTensor>([
    ["h.0.attn.weight", {
      dtype: "F32",
      shape: [2, 3],
      data: new Float32Array([0.5, -1, 3.25, 1e-8, -0, 7]),
    }],
    ["ids", { dtype: "I32", shape: [4], data: new Int32Array([0, -1, 2 ** 31 - 1, -(2 ** 31)]) }],
    ["scalar", { dtype: "F32", shape: [], data: new Float32Array([42]) }],
    ["empty", { dtype: "F32", shape: [3, 0], data: new Float32Array() }],
  ]);
  const metadata = { format: "pt", step: "1000", "ünïcode ✓": "välue" };
  const decoded = decodeSafetensors(encodeSafetensors(tensors, metadata));
  assert.deepEqual(decoded.metadata, metadata);
  assert.equal(decoded.tensors.size, tensors.size);
  for (const [name, tensor] of tensors) assert.deepEqual(decoded.tensors.get(name), tensor, name);
});

Deno.test("`encodeSafetensors()` round-trips F16, BF16 and I64 tensors", () => {
  const halves = new Float32Array([1, -2.5, 65504, 2 ** -24, Infinity, -0]);
  const decoded = decodeSafetensors(encodeSafetensors({
    h: { dtype: "F16", shape: [6], data: halves },
    b: { dtype: "BF16", shape: [2, 2], data: new Float32Array([1, -2.5, 2 ** -133, -Infinity]) },
    l: { dtype: "I64", shape: [3], data: new Int32Array([-1, 0, -(2 ** 31)]) },
  })).tensors;
  assert.deepEqual(decoded.get("h"), { dtype: "F16", shape: [6], data: halves });
  assert.deepEqual(decoded.get("b")!.data, new Float32Array([1, -2.5, 2 ** -133, -Infinity]));
  assert.deepEqual(decoded.get("l")!.data, new Int32Array([-1, 0, -(2 ** 31)]));
  // F16 stores rounded values: 0.1 comes back as the nearest half.
  const rounded = decodeSafetensors(encodeSafetensors({
    x: { dtype: "F16", shape: [1], data: new Float32Array([0.1]) },
  })).tensors.get("x")!.data[0];
  assert.equal(rounded, 0.0999755859375);
});

Deno.test("`encodeSafetensors()` pads the header with spaces to a multiple of 8 bytes", () => {
  for (let nameLength = 1; nameLength <= 24; nameLength++) {
    const name = "n".repeat(nameLength);
    const bytes = encodeSafetensors({
      [name]: { dtype: "F32", shape: [1], data: new Float32Array([1]) },
    });
    const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(length % 8, 0, `name length ${nameLength}`);
    const text = headerText(bytes);
    const trimmed = text.trimEnd();
    assert.ok(text.length - trimmed.length < 8);
    assert.match(text.slice(trimmed.length), /^ *$/);
    assert.ok(trimmed.endsWith("}"));
    assert.equal(bytes.length, 8 + length + 4);
  }
});

Deno.test("`encodeSafetensors()` orders by element size then name, independent of insertion order", () => {
  const make = (): [string, SafeTensor][] => [
    ["z16", { dtype: "F16", shape: [1], data: new Float32Array([1]) }],
    ["b32", { dtype: "F32", shape: [1], data: new Float32Array([2]) }],
    ["a64", { dtype: "I64", shape: [1], data: new Int32Array([3]) }],
    ["a32", { dtype: "I32", shape: [3], data: new Int32Array([4, 5, 6]) }],
    ["10", { dtype: "F32", shape: [1], data: new Float32Array([7]) }],
    ["2", { dtype: "F32", shape: [1], data: new Float32Array([8]) }],
    ["a16", { dtype: "BF16", shape: [1], data: new Float32Array([9]) }],
  ];
  const forward = encodeSafetensors(new Map(make()));
  const backward = encodeSafetensors(Object.fromEntries(make().reverse()));
  assert.deepEqual(forward, backward);
  const layout = planSafetensors(new Map(make()));
  assert.deepEqual(
    layout.tensors.map((t) => [t.name, t.dataOffsets]),
    [
      ["a64", [0, 8]],
      ["10", [8, 12]],
      ["2", [12, 16]],
      ["a32", [16, 28]],
      ["b32", [28, 32]],
      ["a16", [32, 34]],
      ["z16", [34, 36]],
    ],
  );
  // The header lists tensors in the same order, even integer-like names.
  const names = [...headerText(forward).matchAll(/"([^"]+)":\{"dtype"/g)].map((m) => m[1]);
  assert.deepEqual(names, ["a64", "10", "2", "a32", "b32", "a16", "z16"]);
});

Deno.test("`encodeSafetensors()` keeps every tensor aligned to its element size", () => {
  const bytes = encodeSafetensors({
    odd: { dtype: "F16", shape: [3], data: new Float32Array(3) },
    w: { dtype: "F32", shape: [5], data: new Float32Array(5) },
    l: { dtype: "I64", shape: [1], data: new Int32Array(1) },
  });
  const { tensors } = decodeSafetensors(bytes);
  const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const layout = planSafetensors({
    odd: { dtype: "F16", shape: [3], data: new Float32Array(3) },
    w: { dtype: "F32", shape: [5], data: new Float32Array(5) },
    l: { dtype: "I64", shape: [1], data: new Int32Array(1) },
  });
  for (const { name, tensor, dataOffsets } of layout.tensors) {
    const size = { F16: 2, F32: 4, I64: 8 }[tensor.dtype as "F16" | "F32" | "I64"];
    assert.equal((8 + length + dataOffsets[0]) % size, 0, name);
  }
  // Aligned F32 data decodes as a view, with no copy.
  assert.equal(tensors.get("w")!.data.buffer, bytes.buffer);
});

Deno.test("`encodeSafetensors()` omits empty metadata and sorts metadata keys", () => {
  const w = { w: { dtype: "F32" as const, shape: [1], data: new Float32Array([1]) } };
  assert.ok(!headerText(encodeSafetensors(w)).includes("__metadata__"));
  assert.ok(!headerText(encodeSafetensors(w, {})).includes("__metadata__"));
  assert.ok(
    headerText(encodeSafetensors(w, { b: "2", a: "1" })).startsWith(
      '{"__metadata__":{"a":"1","b":"2"},',
    ),
  );
});

Deno.test("`encodeSafetensors()` names the tensor when data does not match shape or dtype", () => {
  assertThrowsWith(
    () =>
      encodeSafetensors(
        { w: { dtype: "F32", shape: [2, 3], data: new Float32Array(5) } },
        {},
        "out.st",
      ),
    RangeError,
    `out.st: tensor "w": data has 5 elements but shape [2,3] needs 6`,
  );
  assertThrowsWith(
    () => encodeSafetensors({ w: { dtype: "I32", shape: [1], data: new Float32Array(1) } }),
    TypeError,
    `safetensors data: tensor "w": dtype I32 needs Int32Array data, got Float32Array`,
  );
  assertThrowsWith(
    () => encodeSafetensors({ w: { dtype: "F64", shape: [1], data: new Float32Array(1) } }),
    TypeError,
    `tensor "w": dtype "F64" cannot be written`,
  );
  assertThrowsWith(
    () => encodeSafetensors({ w: { dtype: "F32", shape: [-1], data: new Float32Array(1) } }),
    TypeError,
    `tensor "w": shape entry 0 must be a non-negative integer, got "-1"`,
  );
  assertThrowsWith(
    () =>
      encodeSafetensors({ __metadata__: { dtype: "F32", shape: [], data: new Float32Array(1) } }),
    TypeError,
    `tensor "__metadata__": name is reserved`,
  );
});

Deno.test("`encodeSafetensors()` rejects metadata values that are not strings", () => {
  assertThrowsWith(
    () => encodeSafetensors({}, { step: 3 } as unknown as Record<string, string>, "out.st"),
    TypeError,
    `out.st: __metadata__: key "step" must map to a string, got number`,
  );
});

Deno.test("`safetensorsChunks()` streams the same bytes as `encodeSafetensors()` without copying F32 data", () => {
  const data = new Float32Array([1, 2, 3]);
  const tensors = { w: { dtype: "F32" as const, shape: [3], data } };
  const chunks = [...safetensorsChunks(planSafetensors(tensors))];
  assert.deepEqual(concat(...chunks), encodeSafetensors(tensors));
  assert.equal(chunks[1].buffer, data.buffer);
  assert.deepEqual(
    tensorToBytes({ dtype: "F32", shape: [1], data: new Float32Array([1]) }),
    f32Bytes(1),
  );
});

import assert from "node:assert/strict";
import { decodeSafetensors } from "../../../engine/io/safetensors/decode.ts";
import {
  MAX_HEADER_LENGTH,
  parseSafetensorsHeader,
} from "../../../engine/io/safetensors/header.ts";
import {
  assertThrowsWith,
  buildFile,
  buildFileFrom,
  concat,
  f32Bytes,
  lengthPrefix,
} from "./_helpers.ts";

const SOURCE = "bad.safetensors";
const W = (fields: Record<string, unknown>) => ({
  w: { dtype: "F32", shape: [2], data_offsets: [0, 8], ...fields },
});

Deno.test("`decodeSafetensors()` names the file when it is shorter than the length prefix", () => {
  assertThrowsWith(
    () => decodeSafetensors(new Uint8Array(5), SOURCE),
    RangeError,
    `${SOURCE}: file is 5 bytes, too short for the 8-byte header length`,
  );
  assertThrowsWith(() => decodeSafetensors(new Uint8Array(0), SOURCE), RangeError, "0 bytes");
});

Deno.test("`decodeSafetensors()` rejects a header length beyond the file", () => {
  const bytes = concat(lengthPrefix(100), new TextEncoder().encode("{}      "));
  assertThrowsWith(
    () => decodeSafetensors(bytes, SOURCE),
    RangeError,
    `${SOURCE}: header length 100 runs past the end of the file: only 8 bytes follow`,
  );
});

Deno.test("`decodeSafetensors()` rejects a header length over the limit, even beyond 2^53", () => {
  assertThrowsWith(
    () => decodeSafetensors(concat(lengthPrefix(2n ** 64n - 1n), new Uint8Array(8)), SOURCE),
    RangeError,
    SOURCE,
    "header length 18446744073709551615 exceeds the 100000000-byte limit",
  );
  assertThrowsWith(
    () => decodeSafetensors(concat(lengthPrefix(MAX_HEADER_LENGTH + 1), new Uint8Array(8)), SOURCE),
    RangeError,
    "exceeds",
  );
});

Deno.test("`decodeSafetensors()` rejects a header that is not UTF-8", () => {
  const bytes = concat(lengthPrefix(8), new Uint8Array([0x7b, 0xff, 0x7d, 32, 32, 32, 32, 32]));
  assertThrowsWith(
    () => decodeSafetensors(bytes, SOURCE),
    TypeError,
    `${SOURCE}: header: is not valid UTF-8`,
  );
});

Deno.test("`decodeSafetensors()` rejects invalid JSON and non-object headers", () => {
  assertThrowsWith(
    () => decodeSafetensors(buildFile('{"w": {'), SOURCE),
    TypeError,
    `${SOURCE}: header: is not valid JSON (`,
  );
  assertThrowsWith(
    () => decodeSafetensors(buildFile("[1, 2]"), SOURCE),
    TypeError,
    `${SOURCE}: header: must be a JSON object, got an array`,
  );
  assertThrowsWith(
    () => decodeSafetensors(buildFile("null"), SOURCE),
    TypeError,
    "must be a JSON object, got null",
  );
  // Zero padding instead of spaces is not JSON whitespace.
  const zeroPadded = concat(lengthPrefix(8), new TextEncoder().encode("{}"), new Uint8Array(6));
  assertThrowsWith(() => decodeSafetensors(zeroPadded, SOURCE), TypeError, "not valid JSON");
});

Deno.test("`decodeSafetensors()` names the tensor when an entry is not an object", () => {
  assertThrowsWith(
    () => decodeSafetensors(buildFileFrom({ w: [1, 2] }), SOURCE),
    TypeError,
    `${SOURCE}: tensor "w": must be an object, got an array`,
  );
});

Deno.test("`decodeSafetensors()` names the tensor when dtype is missing or unknown", () => {
  const missing = { w: { shape: [2], data_offsets: [0, 8] } };
  assertThrowsWith(
    () => decodeSafetensors(buildFileFrom(missing, f32Bytes(1, 2)), SOURCE),
    TypeError,
    `${SOURCE}: tensor "w": missing "dtype"`,
  );
  assertThrowsWith(
    () => decodeSafetensors(buildFileFrom(W({ dtype: "F7" }), f32Bytes(1, 2)), SOURCE),
    TypeError,
    `${SOURCE}: tensor "w": unknown dtype "F7"`,
  );
  assertThrowsWith(
    () => decodeSafetensors(buildFileFrom(W({ dtype: 32 }), f32Bytes(1, 2)), SOURCE),
    TypeError,
    `${SOURCE}: tensor "w": unknown dtype number 32`,
  );
  assertThrowsWith(
    () => decodeSafetensors(buildFileFrom(W({ dtype: "f32" }), f32Bytes(1, 2)), SOURCE),
    TypeError,
    `unknown dtype "f32"`,
  );
});

Deno.test("`decodeSafetensors()` names the tensor when shape is missing or malformed", () => {
  const missing = { w: { dtype: "F32", data_offsets: [0, 8] } };
  assertThrowsWith(
    () => decodeSafetensors(buildFileFrom(missing, f32Bytes(1, 2)), SOURCE),
    TypeError,
    `${SOURCE}: tensor "w": missing "shape"`,
  );
  assertThrowsWith(
    () => decodeSafetensors(buildFileFrom(W({ shape: 2 }), f32Bytes(1, 2)), SOURCE),
    TypeError,
    `${SOURCE}: tensor "w": "shape" must be an array, got number 2`,
  );
  assertThrowsWith(
    () => decodeSafetensors(buildFileFrom(W({ shape: [2, -1] }), f32Bytes(1, 2)), SOURCE),
    TypeError,
    `${SOURCE}: tensor "w": "shape" entry 1 must be a non-negative integer, got number -1`,
  );
  assertThrowsWith(
    () => decodeSafetensors(buildFileFrom(W({ shape: [1.5] }), f32Bytes(1, 2)), SOURCE),
    TypeError,
    `"shape" entry 0 must be a non-negative integer, got number 1.5`,
  );
  assertThrowsWith(
    () => decodeSafetensors(buildFileFrom(W({ shape: ["2"] }), f32Bytes(1, 2)), SOURCE),
    TypeError,
    `got string "2"`,
  );
});

Deno.test("`decodeSafetensors()` names the tensor when data_offsets are missing or malformed", () => {
  const missing = { w: { dtype: "F32", shape: [2] } };
  assertThrowsWith(
    () => decodeSafetensors(buildFileFrom(missing, f32Bytes(1, 2)), SOURCE),
    TypeError,
    `${SOURCE}: tensor "w": missing "data_offsets"`,
  );
  for (const offsets of [[0], [0, 8, 9], [0, -8], [0, 8.5], ["0", "8"], 8]) {
    assertThrowsWith(
      () => decodeSafetensors(buildFileFrom(W({ data_offsets: offsets }), f32Bytes(1, 2)), SOURCE),
      TypeError,
      `${SOURCE}: tensor "w": "data_offsets" must be two non-negative integers, got ${
        JSON.stringify(offsets)
      }`,
    );
  }
  assertThrowsWith(
    () => decodeSafetensors(buildFileFrom(W({ data_offsets: [8, 0] }), f32Bytes(1, 2)), SOURCE),
    RangeError,
    `${SOURCE}: tensor "w": data_offsets [8,0] end before they begin`,
  );
});

Deno.test("`decodeSafetensors()` explains a span that disagrees with shape × itemsize", () => {
  const header = {
    "h.0.attn.weight": { dtype: "F32", shape: [10, 12], data_offsets: [0, 400] },
  };
  const error = assertThrowsWith(
    () => decodeSafetensors(buildFileFrom(header, new Uint8Array(480)), "model.safetensors"),
    RangeError,
  );
  assert.equal(
    error.message,
    `model.safetensors: tensor "h.0.attn.weight": data_offsets span 400 bytes but shape [10,12] of F32 needs 480`,
  );
  const huge = { w: { dtype: "F64", shape: [2 ** 30, 2 ** 30], data_offsets: [0, 8] } };
  assertThrowsWith(
    () => decodeSafetensors(buildFileFrom(huge, new Uint8Array(8)), SOURCE),
    RangeError,
    `tensor "w": data_offsets span 8 bytes but shape [1073741824,1073741824] of F64 needs more than 2^53`,
  );
});

Deno.test("`decodeSafetensors()` rejects data_offsets past the end of the data buffer", () => {
  assertThrowsWith(
    () => decodeSafetensors(buildFileFrom(W({}), f32Bytes(1)), SOURCE),
    RangeError,
    `${SOURCE}: tensor "w": data_offsets [0,8] run past the 4-byte data buffer`,
  );
});

Deno.test("`decodeSafetensors()` names both tensors when data_offsets overlap", () => {
  const header = {
    a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
  };
  assertThrowsWith(
    () => decodeSafetensors(buildFileFrom(header, new Uint8Array(12)), SOURCE),
    RangeError,
    `${SOURCE}: tensor "b": data_offsets [4,12] overlap tensor "a" at [0,8]`,
  );
  const same = {
    a: { dtype: "I32", shape: [1], data_offsets: [0, 4] },
    b: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
  };
  assertThrowsWith(
    () => decodeSafetensors(buildFileFrom(same, new Uint8Array(4)), SOURCE),
    RangeError,
    `tensor "b": data_offsets [0,4] overlap tensor "a"`,
  );
});

Deno.test("`decodeSafetensors()` rejects metadata that is not a string-to-string map", () => {
  assertThrowsWith(
    () => decodeSafetensors(buildFileFrom({ __metadata__: ["a"] }), SOURCE),
    TypeError,
    `${SOURCE}: __metadata__: must be an object of strings, got an array`,
  );
  assertThrowsWith(
    () => decodeSafetensors(buildFileFrom({ __metadata__: { epoch: 3 } }), SOURCE),
    TypeError,
    `${SOURCE}: __metadata__: key "epoch" must map to a string, got number 3`,
  );
  assertThrowsWith(
    () => decodeSafetensors(buildFileFrom({ __metadata__: { nested: { a: "b" } } }), SOURCE),
    TypeError,
    `key "nested" must map to a string, got an object`,
  );
});

Deno.test("`decodeSafetensors()` rejects duplicate keys that JSON.parse would hide", () => {
  const tensor = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';
  assertThrowsWith(
    () => decodeSafetensors(buildFile(`{"w":${tensor},"w":${tensor}}`, f32Bytes(1)), SOURCE),
    TypeError,
    `${SOURCE}: header: duplicate tensor name "w"`,
  );
  // An escaped spelling of the same name is still the same name.
  assertThrowsWith(
    () => decodeSafetensors(buildFile(`{"w":${tensor},"\\u0077":${tensor}}`, f32Bytes(1)), SOURCE),
    TypeError,
    `duplicate tensor name "w"`,
  );
  assertThrowsWith(
    () =>
      decodeSafetensors(
        buildFile(
          '{"w":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}}',
          f32Bytes(1),
        ),
        SOURCE,
      ),
    TypeError,
    `${SOURCE}: tensor "w": duplicate key "dtype"`,
  );
  assertThrowsWith(
    () => decodeSafetensors(buildFile('{"__metadata__":{"a":"1","a":"2"}}'), SOURCE),
    TypeError,
    `${SOURCE}: __metadata__: duplicate key "a"`,
  );
});

Deno.test("`parseSafetensorsHeader()` allows equal keys in different objects and quoted braces", () => {
  const json = '{"__metadata__":{"dtype":"{\\"x\\":1}","w":"[","n":"\\\\"},' +
    '"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
  const header = parseSafetensorsHeader(buildFile(json, f32Bytes(1)), SOURCE);
  assert.deepEqual(header.metadata, { dtype: '{"x":1}', w: "[", n: "\\" });
  assert.deepEqual([...header.tensors.keys()], ["w"]);
});

Deno.test("`parseSafetensorsHeader()` accepts gaps, trailing bytes, null metadata and empty tensors", () => {
  const header = {
    __metadata__: null,
    z: { dtype: "F32", shape: [0, 3], data_offsets: [4, 4] },
    b: { dtype: "I32", shape: [], data_offsets: [8, 12] },
    a: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
    e: { dtype: "F16", shape: [0], data_offsets: [4, 4] },
  };
  const parsed = parseSafetensorsHeader(buildFileFrom(header, new Uint8Array(20)), SOURCE);
  assert.deepEqual(parsed.metadata, {});
  // Ordered by offset, then name.
  assert.deepEqual([...parsed.tensors.keys()], ["a", "e", "z", "b"]);
  assert.deepEqual(parsed.tensors.get("b"), { dtype: "I32", shape: [], dataOffsets: [8, 12] });
  assert.equal(parsed.dataStart % 8, 0);
});

Deno.test("`parseSafetensorsHeader()` validates offsets against `fileSize` for a header-only prefix", () => {
  const file = buildFileFrom(W({}), f32Bytes(1, 2));
  const prefix = file.subarray(0, file.length - 8);
  assert.equal(parseSafetensorsHeader(prefix, SOURCE, file.length).tensors.size, 1);
  assertThrowsWith(
    () => parseSafetensorsHeader(prefix, SOURCE, file.length - 4),
    RangeError,
    "run past the 4-byte data buffer",
  );
  assertThrowsWith(
    () => parseSafetensorsHeader(prefix.subarray(0, 12), SOURCE, file.length),
    RangeError,
    `${SOURCE}: need the first`,
  );
  assertThrowsWith(
    () => parseSafetensorsHeader(prefix.subarray(0, 4), SOURCE, file.length),
    RangeError,
    `${SOURCE}: need the first 8 bytes but got 4`,
  );
});

Deno.test("`decodeSafetensors()` uses a generic source name when none is given", () => {
  assertThrowsWith(() => decodeSafetensors(new Uint8Array(3)), RangeError, "safetensors data: ");
});

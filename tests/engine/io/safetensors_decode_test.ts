import assert from "node:assert/strict";
import { decodeSafetensors, decodeTensorBytes } from "../../../engine/io/safetensors/decode.ts";
import { assertThrowsWith, buildFileFrom, concat } from "./_helpers.ts";

Deno.test("`decodeSafetensors()` decodes a hand-built file byte for byte", () => {
  const json = '{"__metadata__":{"format":"pt"},' +
    '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"b":{"dtype":"I32","shape":[1,1],"data_offsets":[8,12]}}';
  assert.equal(json.length, 141);
  // deno-fmt-ignore
  const bytes = new Uint8Array([
    // Header length 144 = 141 bytes of JSON + 3 spaces of padding, as u64 little-endian.
    0x90, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ...new TextEncoder().encode(json),
    0x20, 0x20, 0x20,
    // a = [1.0, -2.0] as F32 little-endian, at data offset 0.
    0x00, 0x00, 0x80, 0x3f,
    0x00, 0x00, 0x00, 0xc0,
    // b = [[258]] as I32 little-endian, at data offset 8.
    0x02, 0x01, 0x00, 0x00,
  ]);
  assert.equal(bytes.length, 8 + 144 + 12);
  const { tensors, metadata } = decodeSafetensors(bytes, "hand.safetensors");
  assert.deepEqual(metadata, { format: "pt" });
  assert.deepEqual([...tensors.keys()], ["a", "b"]);
  assert.deepEqual(tensors.get("a"), {
    dtype: "F32",
    shape: [2],
    data: new Float32Array([1, -2]),
  });
  assert.deepEqual(tensors.get("b"), { dtype: "I32", shape: [1, 1], data: new Int32Array([258]) });
});

Deno.test("`decodeSafetensors()` converts F16 known values, subnormals, inf and NaN to F32", () => {
  const codes = new Uint16Array([0x3c00, 0xc100, 0x7bff, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0x7e00]);
  const header = { h: { dtype: "F16", shape: [8], data_offsets: [0, 16] } };
  const data = decodeSafetensors(buildFileFrom(header, new Uint8Array(codes.buffer)))
    .tensors.get("h")!.data;
  assert.ok(data instanceof Float32Array);
  assert.deepEqual(
    [...data.subarray(0, 7)],
    [1, -2.5, 65504, 2 ** -24, 1023 * 2 ** -24, Infinity, -Infinity],
  );
  assert.ok(Number.isNaN(data[7]));
});

Deno.test("`decodeSafetensors()` converts BF16 known values, subnormals, inf and NaN to F32", () => {
  const codes = new Uint16Array([0x3f80, 0xc020, 0x477f, 0x0001, 0x7f80, 0xff80, 0x7fc0]);
  const header = { h: { dtype: "BF16", shape: [7], data_offsets: [0, 14] } };
  const data = decodeSafetensors(buildFileFrom(header, new Uint8Array(codes.buffer)))
    .tensors.get("h")!.data;
  assert.ok(data instanceof Float32Array);
  assert.deepEqual([...data.subarray(0, 6)], [1, -2.5, 65280, 2 ** -133, Infinity, -Infinity]);
  assert.ok(Number.isNaN(data[6]));
});

Deno.test("`decodeSafetensors()` rounds F64 to Float32Array", () => {
  const raw = new Float64Array([1.5, 0.1, -1e300]);
  const header = { d: { dtype: "F64", shape: [3], data_offsets: [0, 24] } };
  const data = decodeSafetensors(buildFileFrom(header, new Uint8Array(raw.buffer)))
    .tensors.get("d")!.data;
  assert.ok(data instanceof Float32Array);
  assert.deepEqual([...data], [1.5, Math.fround(0.1), -Infinity]);
});

Deno.test("`decodeSafetensors()` decodes F8 dtypes through lookup tables", () => {
  const header = {
    a: { dtype: "F8_E4M3", shape: [3], data_offsets: [0, 3] },
    b: { dtype: "F8_E5M2", shape: [2], data_offsets: [3, 5] },
  };
  const { tensors } = decodeSafetensors(
    buildFileFrom(header, new Uint8Array([0x38, 0xc4, 0x7e, 0x3c, 0x7c])),
  );
  assert.deepEqual([...tensors.get("a")!.data], [1, -3, 448]);
  assert.deepEqual([...tensors.get("b")!.data], [1, Infinity]);
});

Deno.test("`decodeSafetensors()` widens small integer dtypes to Int32Array", () => {
  const header = {
    i16: { dtype: "I16", shape: [2], data_offsets: [0, 4] },
    u16: { dtype: "U16", shape: [1], data_offsets: [4, 6] },
    bool: { dtype: "BOOL", shape: [2], data_offsets: [6, 8] },
    u8: { dtype: "U8", shape: [1], data_offsets: [8, 9] },
    i8: { dtype: "I8", shape: [2], data_offsets: [9, 11] },
  };
  const data = concat(
    new Uint8Array(new Int16Array([-300, 7]).buffer),
    new Uint8Array(new Uint16Array([65535]).buffer),
    new Uint8Array([1, 0, 200, 0xff, 0x7f]),
  );
  const { tensors } = decodeSafetensors(buildFileFrom(header, data));
  for (const tensor of tensors.values()) assert.ok(tensor.data instanceof Int32Array);
  assert.deepEqual([...tensors.get("i16")!.data], [-300, 7]);
  assert.deepEqual([...tensors.get("u16")!.data], [65535]);
  assert.deepEqual([...tensors.get("bool")!.data], [1, 0]);
  assert.deepEqual([...tensors.get("u8")!.data], [200]);
  assert.deepEqual([...tensors.get("i8")!.data], [-1, 127]);
});

Deno.test("`decodeSafetensors()` narrows I64, U64 and U32 to Int32Array when values fit", () => {
  const header = {
    i64: { dtype: "I64", shape: [4], data_offsets: [0, 32] },
    u64: { dtype: "U64", shape: [1], data_offsets: [32, 40] },
    u32: { dtype: "U32", shape: [1], data_offsets: [40, 44] },
  };
  const data = concat(
    new Uint8Array(new BigInt64Array([5n, -7n, 2n ** 31n - 1n, -(2n ** 31n)]).buffer),
    new Uint8Array(new BigUint64Array([2n ** 31n - 1n]).buffer),
    new Uint8Array(new Uint32Array([123]).buffer),
  );
  const { tensors } = decodeSafetensors(buildFileFrom(header, data));
  assert.deepEqual(tensors.get("i64")!.data, new Int32Array([5, -7, 2 ** 31 - 1, -(2 ** 31)]));
  assert.deepEqual(tensors.get("u64")!.data, new Int32Array([2 ** 31 - 1]));
  assert.deepEqual(tensors.get("u32")!.data, new Int32Array([123]));
});

Deno.test("`decodeSafetensors()` names the tensor and element when an integer exceeds Int32", () => {
  const cases: [string, Uint8Array, string][] = [
    [
      "I64",
      new Uint8Array(new BigInt64Array([1n, 2n ** 31n]).buffer),
      "I64 element 1 is 2147483648",
    ],
    [
      "I64",
      new Uint8Array(new BigInt64Array([-(2n ** 31n) - 1n, 0n]).buffer),
      "I64 element 0 is -2147483649",
    ],
    [
      "U64",
      new Uint8Array(new BigUint64Array([2n ** 64n - 1n, 0n]).buffer),
      "U64 element 0 is 18446744073709551615",
    ],
    [
      "U32",
      new Uint8Array(new Uint32Array([0, 0, 2 ** 32 - 1, 0]).buffer),
      "U32 element 2 is 4294967295",
    ],
  ];
  for (const [dtype, data, message] of cases) {
    const size = dtype === "U32" ? 4 : 8;
    const header = {
      "tok.ids": { dtype, shape: [data.length / size], data_offsets: [0, data.length] },
    };
    assertThrowsWith(
      () => decodeSafetensors(buildFileFrom(header, data), "ids.safetensors"),
      RangeError,
      `ids.safetensors: tensor "tok.ids": ${message}, outside the Int32 range`,
    );
  }
});

Deno.test("`decodeSafetensors()` returns views of the input for aligned F32 and I32 data", () => {
  const header = {
    f: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    i: { dtype: "I32", shape: [1], data_offsets: [8, 12] },
  };
  const bytes = buildFileFrom(header, new Uint8Array(new Float32Array([3, 4, 0]).buffer));
  const { tensors } = decodeSafetensors(bytes);
  assert.equal(tensors.get("f")!.data.buffer, bytes.buffer);
  assert.equal(tensors.get("i")!.data.buffer, bytes.buffer);
  const copied = decodeSafetensors(bytes, "x", { copy: true }).tensors;
  assert.notEqual(copied.get("f")!.data.buffer, bytes.buffer);
  assert.deepEqual(copied.get("f")!.data, new Float32Array([3, 4]));
});

Deno.test("`decodeSafetensors()` copies F32 data that is not 4-byte aligned", () => {
  const header = { f: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
  const file = buildFileFrom(header, new Uint8Array(new Float32Array([3, 4]).buffer));
  const shifted = new Uint8Array(file.length + 1);
  shifted.set(file, 1);
  const data = decodeSafetensors(shifted.subarray(1)).tensors.get("f")!.data;
  assert.notEqual(data.buffer, shifted.buffer);
  assert.deepEqual(data, new Float32Array([3, 4]));
});

Deno.test("`decodeSafetensors()` skips tensors rejected by `filter`", () => {
  const header = {
    keep: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
    drop: { dtype: "F8_E4M3", shape: [1], data_offsets: [4, 5] },
  };
  const { tensors } = decodeSafetensors(buildFileFrom(header, new Uint8Array(5)), "x", {
    filter: (name, info) => name === "keep" && info.dtype === "F32",
  });
  assert.deepEqual([...tensors.keys()], ["keep"]);
});

Deno.test("`decodeSafetensors()` decodes empty and scalar tensors", () => {
  const header = {
    empty: { dtype: "F16", shape: [0, 4], data_offsets: [0, 0] },
    scalar: { dtype: "F32", shape: [], data_offsets: [0, 4] },
  };
  const { tensors } = decodeSafetensors(
    buildFileFrom(header, new Uint8Array(new Float32Array([9]).buffer)),
  );
  assert.deepEqual(tensors.get("empty"), { dtype: "F16", shape: [0, 4], data: new Float32Array() });
  assert.deepEqual(tensors.get("scalar")!.data, new Float32Array([9]));
});

Deno.test("`decodeTensorBytes()` rejects a span that is not a whole number of elements", () => {
  assertThrowsWith(
    () => decodeTensorBytes(new Uint8Array(6), "F32", "w", "x.safetensors", false),
    RangeError,
    `x.safetensors: tensor "w": 6 bytes is not a whole number of 4-byte elements`,
  );
});

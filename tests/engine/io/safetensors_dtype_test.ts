import assert from "node:assert/strict";
import {
  bf16BitsToNumber,
  decodedArrayKind,
  f16BitsToNumber,
  f16LookupTable,
  f8e4m3BitsToNumber,
  f8e5m2BitsToNumber,
  isSafeDType,
  isSafeWriteDType,
  numberToBf16Bits,
  numberToF16Bits,
} from "../../../engine/io/safetensors/dtype.ts";

const F16_KNOWN: [number, number][] = [
  [0x3c00, 1],
  [0xc100, -2.5],
  [0x7bff, 65504],
  [0xfbff, -65504],
  [0x0001, 2 ** -24],
  [0x03ff, 1023 * 2 ** -24],
  [0x0400, 2 ** -14],
  [0x8001, -(2 ** -24)],
  [0x3555, 0.333251953125],
  [0x7c00, Infinity],
  [0xfc00, -Infinity],
  [0x0000, 0],
];

Deno.test("`f16BitsToNumber()` decodes normals, subnormals and infinities exactly", () => {
  for (const [bits, value] of F16_KNOWN) {
    assert.equal(f16BitsToNumber(bits), value, `bits 0x${bits.toString(16)}`);
  }
  assert.ok(Object.is(f16BitsToNumber(0x8000), -0));
  assert.ok(Number.isNaN(f16BitsToNumber(0x7e00)));
  assert.ok(Number.isNaN(f16BitsToNumber(0xfc01)));
});

Deno.test("`f16LookupTable()` agrees with `f16BitsToNumber()` for every bit pattern", () => {
  const table = f16LookupTable();
  assert.equal(table.length, 65536);
  for (let bits = 0; bits < 65536; bits++) {
    const expected = f16BitsToNumber(bits);
    if (Number.isNaN(expected)) assert.ok(Number.isNaN(table[bits]));
    else assert.ok(Object.is(table[bits], expected), `bits 0x${bits.toString(16)}`);
  }
});

Deno.test("`numberToF16Bits()` inverts `f16BitsToNumber()` for every non-NaN pattern", () => {
  for (let bits = 0; bits < 65536; bits++) {
    const value = f16BitsToNumber(bits);
    if (Number.isNaN(value)) continue;
    assert.equal(numberToF16Bits(value), bits, `bits 0x${bits.toString(16)}`);
  }
});

Deno.test("`numberToF16Bits()` rounds to nearest even and saturates to infinity", () => {
  assert.equal(numberToF16Bits(1 + 2 ** -11), 0x3c00); // Tie between 1 and next: even is 1.
  assert.equal(numberToF16Bits(1 + 3 * 2 ** -11), 0x3c02); // Tie: rounds up to even mantissa 2.
  assert.equal(numberToF16Bits(1 + 2 ** -11 + 2 ** -20), 0x3c01); // Just above the tie.
  assert.equal(numberToF16Bits(65519), 0x7bff);
  assert.equal(numberToF16Bits(65520), 0x7c00);
  assert.equal(numberToF16Bits(1e10), 0x7c00);
  assert.equal(numberToF16Bits(-1e10), 0xfc00);
  assert.equal(numberToF16Bits(2 ** -25), 0x0000); // Half the smallest subnormal: tie to zero.
  assert.equal(numberToF16Bits(2 ** -25 * 1.5), 0x0001);
  assert.equal(numberToF16Bits(3 * 2 ** -25), 0x0002); // Tie between 1 and 2 subnormal units.
  assert.equal(numberToF16Bits(2 ** -30), 0x0000);
  assert.equal(numberToF16Bits(-(2 ** -30)), 0x8000);
  assert.equal(numberToF16Bits(2 ** -14 - 2 ** -26), 0x0400); // Rounds up into the normals.
  const nan = numberToF16Bits(NaN);
  assert.equal(nan & 0x7c00, 0x7c00);
  assert.notEqual(nan & 0x03ff, 0);
});

Deno.test("`bf16BitsToNumber()` decodes known values, subnormals, infinities and NaN", () => {
  assert.equal(bf16BitsToNumber(0x3f80), 1);
  assert.equal(bf16BitsToNumber(0xc020), -2.5);
  assert.equal(bf16BitsToNumber(0x477f), 65280);
  assert.equal(bf16BitsToNumber(0x0001), 2 ** -133);
  assert.equal(bf16BitsToNumber(0x7f7f), Math.fround(3.3895313892515355e38));
  assert.equal(bf16BitsToNumber(0x7f80), Infinity);
  assert.equal(bf16BitsToNumber(0xff80), -Infinity);
  assert.ok(Number.isNaN(bf16BitsToNumber(0x7fc0)));
});

Deno.test("`numberToBf16Bits()` rounds to nearest even and keeps NaN quiet", () => {
  assert.equal(numberToBf16Bits(1), 0x3f80);
  assert.equal(numberToBf16Bits(-2.5), 0xc020);
  assert.equal(numberToBf16Bits(65504), 0x4780); // 0x477fe000 rounds up to 65536.
  assert.equal(numberToBf16Bits(1 + 2 ** -8), 0x3f80); // Tie: stays on the even value 1.
  assert.equal(numberToBf16Bits(1 + 3 * 2 ** -8), 0x3f82); // Tie: rounds up to even.
  assert.equal(numberToBf16Bits(Infinity), 0x7f80);
  assert.equal(numberToBf16Bits(3.4e38), 0x7f80); // Above the largest BF16: rounds to infinity.
  const nan = numberToBf16Bits(NaN);
  assert.ok(Number.isNaN(bf16BitsToNumber(nan)));
  for (let bits = 0; bits < 65536; bits++) {
    const value = bf16BitsToNumber(bits);
    if (!Number.isNaN(value)) assert.equal(numberToBf16Bits(value), bits);
  }
});

Deno.test("`f8e4m3BitsToNumber()` and `f8e5m2BitsToNumber()` decode known values", () => {
  assert.equal(f8e4m3BitsToNumber(0x38), 1);
  assert.equal(f8e4m3BitsToNumber(0xc4), -3);
  assert.equal(f8e4m3BitsToNumber(0x7e), 448);
  assert.equal(f8e4m3BitsToNumber(0x01), 2 ** -9);
  assert.ok(Number.isNaN(f8e4m3BitsToNumber(0x7f)));
  assert.ok(Number.isNaN(f8e4m3BitsToNumber(0xff)));
  assert.equal(f8e5m2BitsToNumber(0x3c), 1);
  assert.equal(f8e5m2BitsToNumber(0x01), 2 ** -16);
  assert.equal(f8e5m2BitsToNumber(0x7b), 57344);
  assert.equal(f8e5m2BitsToNumber(0x7c), Infinity);
  assert.ok(Number.isNaN(f8e5m2BitsToNumber(0x7e)));
});

Deno.test("`isSafeDType()` accepts exact spec names only", () => {
  for (const name of ["F32", "F16", "BF16", "F64", "I32", "I64", "U8", "I8", "BOOL"]) {
    assert.ok(isSafeDType(name), name);
  }
  for (const name of ["f32", "F7", "", "toString", "__proto__", 4, null]) {
    assert.ok(!isSafeDType(name), String(name));
  }
  assert.ok(isSafeWriteDType("F16"));
  assert.ok(!isSafeWriteDType("F64"));
  assert.equal(decodedArrayKind("BF16"), "float");
  assert.equal(decodedArrayKind("I64"), "int");
});

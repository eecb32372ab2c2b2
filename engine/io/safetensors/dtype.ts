/**
 * Safetensors dtype table and scalar bit conversions (F16, BF16, F8).
 * @module
 */

/**
 * A dtype name as it appears in a safetensors header.
 *
 * Every listed dtype can be read. Floating dtypes decode to `Float32Array`, integer and
 * boolean dtypes decode to `Int32Array` (see {@linkcode decodedArrayKind}).
 */
export type SafeDType =
  | "BOOL"
  | "U8"
  | "I8"
  | "I16"
  | "U16"
  | "F16"
  | "BF16"
  | "I32"
  | "U32"
  | "F32"
  | "F64"
  | "I64"
  | "U64"
  | "F8_E4M3"
  | "F8_E5M2";

/** The dtypes {@linkcode encodeSafetensors} can write. */
export type SafeWriteDType = "F32" | "F16" | "BF16" | "I32" | "I64";

/** Tensor payload in memory: floats as `Float32Array`, integers and booleans as `Int32Array`. */
export type SafeData = Float32Array | Int32Array;

/** Bytes per element of each dtype. */
export const SAFE_DTYPE_SIZES: Readonly<Record<SafeDType, number>> = Object.freeze({
  BOOL: 1,
  U8: 1,
  I8: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
  F8_E4M3: 1,
  F8_E5M2: 1,
});

const WRITE_DTYPES: ReadonlySet<string> = new Set<SafeWriteDType>([
  "F32",
  "F16",
  "BF16",
  "I32",
  "I64",
]);

/**
 * Tells whether a value is a dtype name this module knows.
 *
 * @param value Any value, typically the `dtype` field of a parsed header entry.
 * @returns `true` when `value` is one of the {@linkcode SafeDType} names.
 * @example
 * ```ts
 * isSafeDType("BF16"); // true
 * isSafeDType("f32"); // false: names are case-sensitive
 * ```
 */
export function isSafeDType(value: unknown): value is SafeDType {
  return typeof value === "string" && Object.hasOwn(SAFE_DTYPE_SIZES, value);
}

/**
 * Tells whether a dtype can be written by {@linkcode encodeSafetensors}.
 *
 * @param dtype A dtype name.
 * @returns `true` for `"F32"`, `"F16"`, `"BF16"`, `"I32"` and `"I64"`.
 * @example
 * ```ts
 * isSafeWriteDType("F16"); // true
 * isSafeWriteDType("F64"); // false
 * ```
 */
export function isSafeWriteDType(dtype: string): dtype is SafeWriteDType {
  return WRITE_DTYPES.has(dtype);
}

/**
 * Names the typed array a dtype decodes to.
 *
 * @param dtype A dtype name.
 * @returns `"float"` for `Float32Array` payloads, `"int"` for `Int32Array` payloads.
 * @example
 * ```ts
 * decodedArrayKind("BF16"); // "float"
 * decodedArrayKind("BOOL"); // "int"
 * ```
 */
export function decodedArrayKind(dtype: SafeDType): "float" | "int" {
  switch (dtype) {
    case "F16":
    case "BF16":
    case "F32":
    case "F64":
    case "F8_E4M3":
    case "F8_E5M2":
      return "float";
    default:
      return "int";
  }
}

/** True when the host stores multi-byte numbers little-endian, so typed-array views match the file. */
export const HOST_IS_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// One shared scratch word reinterprets float bits without allocating per call.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

let f16Table: Float32Array | undefined;

/**
 * Returns a 65536-entry table mapping every F16 bit pattern to its float value.
 *
 * A table lookup is several times faster than bit arithmetic for large tensors and costs 256 KiB
 * once.
 *
 * @returns The shared, lazily built table; do not mutate it.
 * @example
 * ```ts
 * f16LookupTable()[0x3c00]; // 1
 * ```
 */
export function f16LookupTable(): Float32Array {
  if (f16Table === undefined) {
    const table = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) table[bits] = f16BitsToNumber(bits);
    f16Table = table;
  }
  return f16Table;
}

/**
 * Converts IEEE 754 binary16 bits to a number.
 *
 * @param bits Half-precision bit pattern in the low 16 bits.
 * @returns The exact value; subnormals, infinities and NaN included.
 * @example
 * ```ts
 * f16BitsToNumber(0xc100); // -2.5
 * f16BitsToNumber(0x0001); // 2 ** -24, the smallest subnormal
 * ```
 */
export function f16BitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/**
 * Converts a number to IEEE 754 binary16 bits, rounding to nearest even.
 *
 * Values too large for F16 become infinity, values below half the smallest subnormal become
 * signed zero and NaN stays a quiet NaN. The number is first rounded to F32, as the engine's
 * tensors hold F32.
 *
 * @param value Number to convert.
 * @returns The half-precision bit pattern (0 to 0xffff).
 * @example
 * ```ts
 * numberToF16Bits(1); // 0x3c00
 * numberToF16Bits(65520); // 0x7c00: rounds up to infinity
 * ```
 */
export function numberToF16Bits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200 | (mantissa >>> 13));
  const e = exponent - 112; // Rebias from 127 to 15.
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // At or below 2^-25 everything rounds to zero (the exact half rounds to even, i.e. zero).
    if (e < -10) return sign;
    const full = mantissa | 0x800000;
    const shift = 14 - e;
    let m = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (m & 1) === 1)) m++;
    return sign | m; // A carry into bit 10 correctly yields the smallest normal.
  }
  let h = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa bumps the exponent, and out of exponent 30 gives infinity.
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++;
  return sign | h;
}

/**
 * Converts bfloat16 bits to a number.
 *
 * @param bits BF16 bit pattern in the low 16 bits.
 * @returns The exact value (BF16 is the top half of an F32).
 * @example
 * ```ts
 * bf16BitsToNumber(0x3f80); // 1
 * ```
 */
export function bf16BitsToNumber(bits: number): number {
  scratchU32[0] = (bits & 0xffff) << 16;
  return scratchF32[0];
}

/**
 * Converts a number to bfloat16 bits, rounding to nearest even.
 *
 * @param value Number to convert; it is first rounded to F32.
 * @returns The BF16 bit pattern (0 to 0xffff); NaN stays a quiet NaN.
 * @example
 * ```ts
 * numberToBf16Bits(-2.5); // 0xc020
 * ```
 */
export function numberToBf16Bits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0];
  // Rounding could carry a NaN payload into infinity, so force a quiet NaN instead.
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * Converts an F8 E4M3 ("FN" variant: no infinities, one NaN pattern per sign) byte to a number.
 *
 * @param bits The byte.
 * @returns The value; `0x7f` and `0xff` give NaN.
 * @example
 * ```ts
 * f8e4m3BitsToNumber(0x38); // 1
 * f8e4m3BitsToNumber(0x7e); // 448, the largest finite value
 * ```
 */
export function f8e4m3BitsToNumber(bits: number): number {
  const sign = bits & 0x80 ? -1 : 1;
  const exponent = (bits >>> 3) & 0xf;
  const mantissa = bits & 0x7;
  if (exponent === 0xf && mantissa === 0x7) return NaN;
  if (exponent === 0) return sign * mantissa * 2 ** -9;
  return sign * (8 + mantissa) * 2 ** (exponent - 10);
}

/**
 * Converts an F8 E5M2 byte to a number; E5M2 is the top byte of an F16.
 *
 * @param bits The byte.
 * @returns The value, infinities and NaN included.
 * @example
 * ```ts
 * f8e5m2BitsToNumber(0x3c); // 1
 * ```
 */
export function f8e5m2BitsToNumber(bits: number): number {
  return f16BitsToNumber((bits & 0xff) << 8);
}

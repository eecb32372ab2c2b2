/**
 * GPT-2's reversible mapping between bytes and printable characters, which lets BPE work on
 * strings without whitespace or control characters in them.
 * @module
 */

/** Bytes that map to the character with the same code: printable Latin-1 other than space. */
function isPrintable(byte: number): boolean {
  return (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) ||
    (byte >= 0xae && byte <= 0xff);
}

function buildByteToChar(): readonly string[] {
  const chars = new Array<string>(256);
  // The other bytes take the code points 256, 257, ... in byte order, as GPT-2 defines.
  let next = 256;
  for (let byte = 0; byte < 256; byte++) {
    chars[byte] = String.fromCharCode(isPrintable(byte) ? byte : next++);
  }
  return chars;
}

/**
 * `BYTE_TO_CHAR[b]` is the one-character string GPT-2 uses for byte `b`.
 *
 * @example The space byte
 * ```ts
 * import { BYTE_TO_CHAR } from "./byte_unicode.ts";
 * console.log(BYTE_TO_CHAR[0x20]); // "Ġ"
 * ```
 */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

// Indexed by char code; all mapped characters are below 324, so a small table beats a Map.
const CHAR_TO_BYTE: Int16Array = (() => {
  const table = new Int16Array(324).fill(-1);
  BYTE_TO_CHAR.forEach((char, byte) => table[char.charCodeAt(0)] = byte);
  return table;
})();

/**
 * Maps bytes to GPT-2's byte characters.
 * @param bytes Raw bytes, e.g. UTF-8 text.
 * @returns A string with one character per byte.
 * @example
 * ```ts
 * import { bytesToChars } from "./byte_unicode.ts";
 * console.log(bytesToChars(new TextEncoder().encode(" hi"))); // "Ġhi"
 * ```
 */
export function bytesToChars(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += BYTE_TO_CHAR[byte];
  return out;
}

/**
 * Maps GPT-2's byte characters back to bytes.
 * @param chars A string made only of characters in {@linkcode BYTE_TO_CHAR}.
 * @returns One byte per character.
 * @throws {RangeError} If a character is not a byte character.
 * @example
 * ```ts
 * import { charsToBytes } from "./byte_unicode.ts";
 * console.log(charsToBytes("Ġhi")); // Uint8Array [32, 104, 105]
 * ```
 */
export function charsToBytes(chars: string): Uint8Array {
  const bytes = new Uint8Array(chars.length);
  for (let i = 0; i < chars.length; i++) {
    const byte = CHAR_TO_BYTE[chars.charCodeAt(i)] ?? -1;
    if (byte < 0) {
      throw new RangeError(
        `Invalid byte character "${chars[i]}" in "${chars}": not in the GPT-2 byte mapping`,
      );
    }
    bytes[i] = byte;
  }
  return bytes;
}

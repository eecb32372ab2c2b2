import assert from "node:assert/strict";
import {
  BYTE_TO_CHAR,
  bytesToChars,
  charsToBytes,
} from "../../../../engine/models/tokenizer/byte_unicode.ts";

Deno.test("`BYTE_TO_CHAR` maps the 256 bytes to distinct visible characters", () => {
  assert.equal(BYTE_TO_CHAR.length, 256);
  assert.equal(new Set(BYTE_TO_CHAR).size, 256);
  for (const char of BYTE_TO_CHAR) {
    assert.equal(char.length, 1);
    assert.match(char, /^[^\s\p{Cc}]$/u, `byte character "${char}" must be visible`);
  }
});

Deno.test("`BYTE_TO_CHAR` keeps printable Latin-1 bytes and shifts the rest past 255", () => {
  assert.equal(BYTE_TO_CHAR[0x41], "A");
  assert.equal(BYTE_TO_CHAR[0x7e], "~");
  assert.equal(BYTE_TO_CHAR[0xe9], "é");
  // The values GPT-2's vocabulary files are written in.
  assert.equal(BYTE_TO_CHAR[0x00], "\u0100");
  assert.equal(BYTE_TO_CHAR[0x0a], "Ċ");
  assert.equal(BYTE_TO_CHAR[0x20], "Ġ");
  assert.equal(BYTE_TO_CHAR[0x7f], "\u0121");
  assert.equal(BYTE_TO_CHAR[0xad], "\u0143");
});

Deno.test("`charsToBytes()` inverts `bytesToChars()` for every byte", () => {
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);
  assert.deepEqual(charsToBytes(bytesToChars(bytes)), bytes);
});

Deno.test("`bytesToChars()` maps UTF-8 text as GPT-2 writes its tokens", () => {
  assert.equal(bytesToChars(new TextEncoder().encode(" café\n")), "ĠcafÃ©Ċ");
});

Deno.test("`charsToBytes()` throws a RangeError when a character is not a byte character", () => {
  assert.throws(() => charsToBytes("a b"), {
    name: "RangeError",
    message: 'Invalid byte character " " in "a b": not in the GPT-2 byte mapping',
  });
  assert.throws(() => charsToBytes("日"), RangeError);
});

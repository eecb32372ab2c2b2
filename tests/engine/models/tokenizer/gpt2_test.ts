import assert from "node:assert/strict";
import { Gpt2Tokenizer, loadGpt2Tokenizer } from "../../../../engine/models/tokenizer/gpt2.ts";
import { BYTE_TO_CHAR } from "../../../../engine/models/tokenizer/byte_unicode.ts";
import { randomInt, seededRandom } from "./prng.ts";

const gpt2 = await loadGpt2Tokenizer();

// Expected ids from an independent GPT-2 implementation (tiktoken's "gpt2" encoding).
const KNOWN: readonly (readonly [string, readonly number[]])[] = [
  ["hello world", [31373, 995]],
  ["Paris", [40313]],
  [" Paris", [6342]],
  ["The capital of France is Paris.", [464, 3139, 286, 4881, 318, 6342, 13]],
  ["", []],
  [" ", [220]],
  ["<|endoftext|>", [27, 91, 437, 1659, 5239, 91, 29]],
  ["héllo", [71, 2634, 18798]],
  ["naïve café", [2616, 38776, 40304]],
  ["日本語", [33768, 98, 17312, 105, 45739, 252]],
  ["🙂", [8582, 25081]],
  ["Привет, мир!", [140, 253, 21169, 18849, 38857, 16843, 20375, 11, 12466, 120, 18849, 21169, 0]],
];
const LEADING_SPACES: readonly (readonly [string, readonly number[]])[] = [
  [" hello", [23748]],
  ["  hello", [220, 23748]],
  ["   hello", [220, 220, 23748]],
  [" 42", [5433]],
];
const CONTRACTIONS: readonly (readonly [string, readonly number[]])[] = [
  ["don't", [9099, 470]],
  ["I'll", [40, 1183]],
  ["we've", [732, 1053]],
  ["she'd", [7091, 1549]],
  ["they're", [9930, 821]],
  ["I'm", [40, 1101]],
  ["it's", [270, 338]],
  ["IT'S", [2043, 6, 50]],
  ["rock'n'roll", [10823, 6, 77, 6, 2487]],
];
const NUMBERS: readonly (readonly [string, readonly number[]])[] = [
  ["123456", [10163, 29228]],
  ["3.14159", [18, 13, 1415, 19707]],
  ["In 2024, 1,000,000 people", [818, 48609, 11, 352, 11, 830, 11, 830, 661]],
];
const WHITESPACE: readonly (readonly [string, readonly number[]])[] = [
  ["\n", [198]],
  ["\n\n", [628]],
  ["a\nb", [64, 198, 65]],
  ["line1\r\nline2", [1370, 16, 201, 198, 1370, 17]],
  ["\n\n\nfoo", [628, 198, 21943]],
  ["a  b", [64, 220, 275]],
  ["a   b", [64, 220, 220, 275]],
  ["trailing   ", [9535, 4386, 220, 220, 220]],
  ["\t\tx", [197, 197, 87]],
];

function checkKnown(cases: readonly (readonly [string, readonly number[]])[]): void {
  for (const [text, ids] of cases) {
    assert.deepEqual(gpt2.encode(text), ids, `encode(${JSON.stringify(text)})`);
    assert.equal(gpt2.decode(ids), text, `decode of ${JSON.stringify(text)}`);
  }
}

/** Random code points, weighted towards the ranges where UTF-8 and BPE get interesting. */
function randomText(random: () => number, wellFormed: boolean): string {
  const ranges: readonly (readonly [number, number])[] = [
    [0x00, 0x7f], // ASCII, control characters included
    [0x80, 0x7ff], // two-byte UTF-8: Latin, Greek, Cyrillic, combining marks
    [0x800, 0xffff], // three-byte UTF-8: CJK, BOM, private use (and surrogates)
    [0x10000, 0x10ffff], // four-byte UTF-8: emoji, astral planes
  ];
  let text = "";
  for (let i = randomInt(random, 24); i > 0; i--) {
    const [low, high] = ranges[randomInt(random, ranges.length)];
    let codePoint = low + randomInt(random, high - low + 1);
    if (wellFormed && codePoint >= 0xd800 && codePoint <= 0xdfff) codePoint = 0x20;
    text += String.fromCodePoint(codePoint);
  }
  return text;
}

Deno.test("`encode()` gives GPT-2's ids for plain sentences and non-Latin text", () => {
  checkKnown(KNOWN);
});

Deno.test("`encode()` gives GPT-2's ids when words have leading spaces", () => {
  checkKnown(LEADING_SPACES);
});

Deno.test("`encode()` gives GPT-2's ids when words have contractions", () => {
  checkKnown(CONTRACTIONS);
});

Deno.test("`encode()` gives GPT-2's ids when the text has numbers", () => {
  checkKnown(NUMBERS);
});

Deno.test("`encode()` gives GPT-2's ids when the text has newlines and runs of spaces", () => {
  checkKnown(WHITESPACE);
});

Deno.test("`encode()` gives the same ids when a cached word is encoded again", () => {
  assert.deepEqual(gpt2.encode(" Paris Paris Paris"), [6342, 6342, 6342]);
  const first = gpt2.encode(" Paris");
  first.push(-1); // callers may mutate what they get; the cache must not see it
  assert.deepEqual(gpt2.encode(" Paris"), [6342]);
});

Deno.test("`encode()` treats <|endoftext|> in text literally", () => {
  assert.ok(!gpt2.encode("a<|endoftext|>b").includes(gpt2.endOfTextId));
  assert.equal(gpt2.decode([gpt2.endOfTextId]), "<|endoftext|>");
});

Deno.test("`decode()` inverts `encode()` on hard Unicode strings", () => {
  const texts = [
    "👩‍👩‍👧 family, 🇫🇷 flag, 👍🏽 thumbs",
    "e\u0301 vs é, Å vs A\u030a, ﬁ ligature",
    "中文，日本語、한국어。",
    "مرحبا بالعالم ‏שלום עולם‎",
    "\u0000\u0001\u001f\u007f\u0080\u009f control",
    "\uFEFFstarts with a byte order mark",
    "\u00a0nbsp\u2028line\u2029para\u3000ideographic",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟘𝟙𝟚 \u{10FFFF}\u{E000}",
    " \t \n\r\n\v\f  ",
  ];
  for (const text of texts) {
    assert.equal(gpt2.decode(gpt2.encode(text)), text, JSON.stringify(text));
  }
});

Deno.test("`decode()` inverts `encode()` on seeded random code points", () => {
  const random = seededRandom(2024);
  for (let n = 0; n < 2000; n++) {
    const text = randomText(random, true);
    const ids = gpt2.encode(text);
    assert.ok(ids.every((id) => id >= 0 && id < gpt2.endOfTextId), JSON.stringify(text));
    assert.equal(gpt2.decode(ids), text, JSON.stringify(text));
  }
});

Deno.test("`encode()` encodes lone surrogates as U+FFFD like TextEncoder", () => {
  assert.deepEqual(gpt2.encode("a\uD800b\uDFFF"), gpt2.encode("a\uFFFDb\uFFFD"));
  const random = seededRandom(99);
  for (let n = 0; n < 500; n++) {
    const text = randomText(random, false);
    assert.equal(gpt2.decode(gpt2.encode(text)), text.toWellFormed(), JSON.stringify(text));
  }
});

Deno.test("`decode()` gives U+FFFD when a token is half of a character", () => {
  const [first, second] = gpt2.encode("🙂");
  assert.equal(gpt2.decode([first]), "\uFFFD");
  assert.deepEqual(gpt2.decodeBytes([first, second]), new TextEncoder().encode("🙂"));
});

Deno.test("`decode()` throws a RangeError naming the id when it is unknown", () => {
  assert.throws(() => gpt2.decode([31373, 70000]), {
    name: "RangeError",
    message: 'Unknown token id "70000": vocabulary has 50257 tokens',
  });
  assert.throws(() => gpt2.decode([-1]), { message: /"-1"/ });
  assert.throws(() => gpt2.decode([50257]), { message: /"50257"/ });
  assert.throws(() => gpt2.decode([2.5]), { message: /"2.5"/ });
});

Deno.test("`encode()` throws a TypeError when the text is not a string", () => {
  assert.throws(() => gpt2.encode(null as unknown as string), {
    name: "TypeError",
    message: 'Invalid text "null": expected a string, got object',
  });
});

Deno.test("`tokenBytes()` returns a copy of the token's bytes", () => {
  const bytes = gpt2.tokenBytes(6342);
  assert.deepEqual(bytes, new TextEncoder().encode(" Paris"));
  bytes[0] = 0;
  assert.equal(gpt2.decode([6342]), " Paris");
  assert.throws(() => gpt2.tokenBytes(50257), RangeError);
});

Deno.test("`byteTokenId()` gives the single-byte token of each byte", () => {
  assert.equal(gpt2.byteTokenId(0x20), 220);
  assert.equal(gpt2.byteTokenId(0x21), 0);
  assert.equal(gpt2.byteTokenId(0x0a), 198);
  for (let byte = 0; byte < 256; byte++) {
    assert.deepEqual(gpt2.tokenBytes(gpt2.byteTokenId(byte)), Uint8Array.of(byte));
  }
  assert.throws(() => gpt2.byteTokenId(256), {
    name: "RangeError",
    message: 'Invalid byte "256": expected an integer in 0..255',
  });
});

Deno.test("`loadGpt2Tokenizer()` shares one tokenizer with GPT-2's sizes", async () => {
  assert.equal(await loadGpt2Tokenizer(), gpt2);
  assert.equal(gpt2.kind, "gpt2");
  assert.equal(gpt2.vocabSize, 50257);
  assert.equal(gpt2.endOfTextId, 50256);
  assert.deepEqual(gpt2.toJSON(), { kind: "gpt2", version: 1, vocabSize: 50257 });
});

Deno.test("`encode()` handles 100k short sentences in seconds", () => {
  const random = seededRandom(3);
  const words = "the of Paris capital France river Seine is in located tower Eiffel a an".split(
    " ",
  );
  const sentences = Array.from(
    { length: 100_000 },
    (_, i) =>
      Array.from({ length: 8 }, () => words[randomInt(random, words.length)]).join(" ") +
      ` number ${i}.`,
  );
  const start = performance.now();
  let count = 0;
  for (const sentence of sentences) count += gpt2.encode(sentence).length;
  const elapsed = performance.now() - start;
  assert.ok(count > 1_000_000);
  assert.ok(elapsed < 20_000, `took ${elapsed} ms`);
});

/** A toy vocabulary: the 256 bytes, "he", and the end-of-text token. */
function toyEncoder(extra: Record<string, number> = {}): Record<string, number> {
  const encoder: Record<string, number> = {};
  BYTE_TO_CHAR.forEach((char, byte) => encoder[char] = byte);
  return { ...encoder, "<|endoftext|>": 256, ...extra };
}

Deno.test("`new Gpt2Tokenizer()` works with a custom vocabulary", () => {
  const tokenizer = new Gpt2Tokenizer({
    encoder: toyEncoder({ he: 257 }),
    merges: [["h", "e"]],
  });
  assert.equal(tokenizer.vocabSize, 258);
  assert.equal(tokenizer.endOfTextId, 256);
  assert.deepEqual(tokenizer.encode("hehe he"), [257, 257, 32, 257]);
  assert.deepEqual(tokenizer.encode("eh"), [101, 104]);
  assert.equal(tokenizer.decode([257, 32]), "he ");
});

Deno.test("`new Gpt2Tokenizer()` throws a RangeError when the vocabulary breaks a rule", () => {
  const noSpace = toyEncoder();
  delete noSpace["Ġ"];
  noSpace["<|endoftext|>"] = 32;
  assert.throws(() => new Gpt2Tokenizer({ encoder: noSpace, merges: [] }), {
    name: "RangeError",
    message: 'Missing token for byte "32": every byte must be a token',
  });
  const { "<|endoftext|>": _, ...noEnd } = toyEncoder();
  assert.throws(() => new Gpt2Tokenizer({ encoder: noEnd, merges: [] }), {
    message: 'Missing token "<|endoftext|>": the vocabulary needs it',
  });
  assert.throws(() => new Gpt2Tokenizer({ encoder: toyEncoder({ x1: 5 }), merges: [] }), {
    name: "RangeError",
    message: /^Invalid id "5" for token/,
  });
});

Deno.test("`encode()` throws a RangeError when a merge makes a symbol outside the vocabulary", () => {
  const tokenizer = new Gpt2Tokenizer({ encoder: toyEncoder(), merges: [["h", "e"]] });
  assert.throws(() => tokenizer.encode("the"), {
    name: "RangeError",
    message: 'Merged symbol "he" is not in the vocabulary',
  });
});

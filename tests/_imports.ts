// The import specifiers of one TypeScript source, found by a small lexer rather than a regular
// expression over the text: comments (JSDoc examples are full of `import … from "…"`), string
// literals and WGSL inside template literals must not count, and dynamic `import("…")` must.

/** One module specifier written in a source file. */
export interface ImportRef {
  /** The specifier exactly as written (`"./x.ts"`, `"node:path"`, …). */
  specifier: string;
  /** 1-based line of the specifier. */
  line: number;
}

interface Token {
  kind: "id" | "num" | "str" | "tpl" | "punct" | "regex";
  /** Identifier or punctuator text; the value of a string or of a template without `${}`. */
  value: string | null;
  line: number;
}

// After these keywords a `/` starts a regular expression rather than a division.
const BEFORE_REGEX = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

function isIdStart(c: string): boolean {
  return /[A-Za-z_$]/.test(c) || c.charCodeAt(0) > 127;
}

function isIdPart(c: string): boolean {
  return /[\w$]/.test(c) || c.charCodeAt(0) > 127;
}

function regexMayStart(prev: Token | undefined): boolean {
  if (prev === undefined) return true;
  if (prev.kind === "punct") return ![")", "]", "}"].includes(prev.value!);
  return prev.kind === "id" && BEFORE_REGEX.has(prev.value!);
}

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  // Open `${` substitutions of enclosing templates: the brace depth inside each.
  const subs: number[] = [];
  let line = 1;
  let i = 0;
  const newlines = (from: number, to: number): void => {
    for (let k = from; k < to; k++) if (src[k] === "\n") line++;
  };
  // Scans template text from `i` (just after a backtick or a closing `}`) to its end or to the
  // next `${`; returns whether the template ended.
  const templateText = (): { text: string; ended: boolean } => {
    let text = "";
    while (i < src.length) {
      const c = src[i];
      if (c === "\\") {
        text += src[i + 1] ?? "";
        i += 2;
      } else if (c === "`") {
        i++;
        return { text, ended: true };
      } else if (c === "$" && src[i + 1] === "{") {
        i += 2;
        subs.push(0);
        return { text, ended: false };
      } else {
        if (c === "\n") line++;
        text += c;
        i++;
      }
    }
    return { text, ended: true };
  };
  while (i < src.length) {
    const c = src[i];
    const start = line;
    if (/\s/.test(c)) {
      if (c === "\n") line++;
      i++;
    } else if (c === "/" && src[i + 1] === "/") {
      while (i < src.length && src[i] !== "\n") i++;
    } else if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      const stop = end < 0 ? src.length : end + 2;
      newlines(i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      let value = "";
      i++;
      while (i < src.length && src[i] !== c && src[i] !== "\n") {
        if (src[i] === "\\") i++;
        value += src[i] ?? "";
        i++;
      }
      i++;
      tokens.push({ kind: "str", value, line: start });
    } else if (c === "`") {
      i++;
      const { text, ended } = templateText();
      tokens.push({ kind: "tpl", value: ended ? text : null, line: start });
    } else if (c === "}" && subs.length > 0 && subs[subs.length - 1] === 0) {
      subs.pop();
      i++;
      templateText();
    } else if (isIdStart(c)) {
      let j = i + 1;
      while (j < src.length && isIdPart(src[j])) j++;
      tokens.push({ kind: "id", value: src.slice(i, j), line: start });
      i = j;
    } else if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < src.length && /[\w.]/.test(src[j])) j++;
      tokens.push({ kind: "num", value: src.slice(i, j), line: start });
      i = j;
    } else if (c === "/" && regexMayStart(tokens[tokens.length - 1])) {
      let inClass = false;
      i++;
      while (i < src.length && src[i] !== "\n" && (inClass || src[i] !== "/")) {
        if (src[i] === "\\") i++;
        else if (src[i] === "[") inClass = true;
        else if (src[i] === "]") inClass = false;
        i++;
      }
      i++;
      while (i < src.length && isIdPart(src[i])) i++;
      tokens.push({ kind: "regex", value: null, line: start });
    } else {
      if (subs.length > 0 && c === "{") subs[subs.length - 1]++;
      if (subs.length > 0 && c === "}") subs[subs.length - 1]--;
      tokens.push({ kind: "punct", value: c, line: start });
      i++;
    }
  }
  return tokens;
}

/**
 * Every module specifier of a source: static `import … from`, `export … from`, side-effect
 * `import "…"`, and `import("…")` with a literal (also in type positions).
 * @param source TypeScript or JavaScript text.
 */
export function parseImports(source: string): ImportRef[] {
  const t = tokenize(source);
  const out: ImportRef[] = [];
  const literal = (k: number): string | null =>
    t[k] !== undefined && (t[k].kind === "str" || t[k].kind === "tpl") ? t[k].value : null;
  for (let k = 0; k < t.length; k++) {
    const tok = t[k];
    if (tok.kind !== "id" || t[k - 1]?.value === ".") continue;
    // The token holding the specifier, if this is an import.
    let at = -1;
    if (tok.value === "import") {
      const dynamic = t[k + 1]?.value === "(" && [")", ","].includes(t[k + 3]?.value ?? "");
      if (dynamic) at = k + 2;
      else if (t[k + 1]?.kind === "str") at = k + 1;
    } else if (tok.value === "from" && t[k + 1]?.kind === "str") {
      at = k + 1;
    }
    const spec = at < 0 ? null : literal(at);
    if (spec !== null) out.push({ specifier: spec, line: t[at].line });
  }
  return out;
}

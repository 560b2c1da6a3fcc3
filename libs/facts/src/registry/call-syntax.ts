/**
 * The small call syntax of aliases and of the debug endpoint: `name` or
 * `name(param: value, ...)`, values being "quoted strings", numbers, true/false, or bare words
 * such as `30d` (read later as a duration or timestamp when the parameter wants one).
 */
export interface FactCall {
  name: string;
  args: Record<string, RawArg>;
}

export type RawArg = { kind: 'string'; value: string } | { kind: 'number'; value: number } | { kind: 'boolean'; value: boolean } | { kind: 'word'; value: string };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/;

/** Parses one call; throws an Error whose message says what is wrong and where. */
export function parseFactCall(text: string): FactCall {
  const src = text.trim();
  const m = NAME.exec(src);
  if (!m) throw new Error(`"${src}" is not a fact name or call such as events_count(type: "topup", within: 30d)`);
  const name = m[0];
  let pos = name.length;
  const args: Record<string, RawArg> = {};
  const ws = () => {
    while (pos < src.length && /\s/.test(src[pos])) pos++;
  };
  ws();
  if (pos === src.length) return { name, args };
  if (src[pos] !== '(') throw new Error(`unexpected "${src.slice(pos)}" after "${name}"`);
  pos++;
  ws();
  if (src[pos] === ')') pos++;
  else {
    for (;;) {
      ws();
      const p = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(pos));
      if (!p) throw new Error(`expected a parameter name at column ${pos + 1} of "${src}"`);
      pos += p[0].length;
      ws();
      if (src[pos] !== ':') throw new Error(`expected ":" after parameter "${p[0]}" in "${src}"`);
      pos++;
      ws();
      if (Object.hasOwn(args, p[0])) throw new Error(`parameter "${p[0]}" is given twice in "${src}"`);
      args[p[0]] = readValue();
      ws();
      if (src[pos] === ',') {
        pos++;
        continue;
      }
      if (src[pos] === ')') {
        pos++;
        break;
      }
      throw new Error(`expected "," or ")" at column ${pos + 1} of "${src}"`);
    }
  }
  ws();
  if (pos !== src.length) throw new Error(`unexpected "${src.slice(pos)}" after the call in "${src}"`);
  return { name, args };

  function readValue(): RawArg {
    const rest = src.slice(pos);
    const str = /^"(?:[^"\\]|\\.)*"/.exec(rest);
    if (str) {
      pos += str[0].length;
      return { kind: 'string', value: JSON.parse(str[0]) as string };
    }
    const word = /^[^\s,()"]+/.exec(rest);
    if (!word) throw new Error(`expected a value at column ${pos + 1} of "${src}"`);
    pos += word[0].length;
    if (word[0] === 'true' || word[0] === 'false') return { kind: 'boolean', value: word[0] === 'true' };
    if (/^-?\d+(?:\.\d+)?$/.test(word[0])) return { kind: 'number', value: Number(word[0]) };
    return { kind: 'word', value: word[0] };
  }
}

/** Splits `a,b(x: 1, y: "p,q"),c` on the commas that separate calls (not those inside calls or strings). */
export function splitCalls(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const ch = list[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(list.slice(start, i));
      start = i + 1;
    }
  }
  out.push(list.slice(start));
  return out.map((s) => s.trim()).filter((s) => s !== '');
}

// The Prometheus text exposition format (version 0.0.4, "Exposition formats" in the Prometheus
// documentation), read far enough to find one counter: comment lines (# HELP, # TYPE and any
// other) are skipped, a sample line is
//     name [{label="value",...}] value [timestamp]
// with blanks or tabs between tokens, label values escaped as \\ \" \n, an optional trailing
// comma in the label set, and a value in Go float syntax (NaN, +Inf, -Inf included). An
// OpenMetrics exemplar (" # {...} v") after the value is ignored. Values stay text, so a reading
// is parsed exactly (decimal.ts).

export interface Sample {
  readonly name: string;
  readonly labels: ReadonlyMap<string, string>;
  readonly value: string;
  readonly timestampMs?: bigint;
}

export type LineResult = { ok: true; value: Sample | undefined } | { ok: false; reason: string };

const NAME_START = /[a-zA-Z_:]/;
const NAME_CHAR = /[a-zA-Z0-9_:]/;
const LABEL_START = /[a-zA-Z_]/;
const LABEL_CHAR = /[a-zA-Z0-9_]/;

/** Reads one line: a sample, undefined for a blank or comment line, or why it is malformed. */
export function parseLine(line: string): LineResult {
  const c = new Cursor(line);
  c.blanks();
  if (c.done() || c.peek() === '#') return { ok: true, value: undefined };
  const name = c.word(NAME_START, NAME_CHAR);
  if (name === undefined) return c.fail('expected a metric name');
  c.blanks();
  const labels = new Map<string, string>();
  if (c.peek() === '{') {
    const r = readLabels(c, labels);
    if (r !== undefined) return c.fail(r);
    c.blanks();
  }
  const value = c.token();
  if (value === undefined) return c.fail('expected a value');
  c.blanks();
  let timestampMs: bigint | undefined;
  if (!c.done() && c.peek() !== '#') {
    const ts = c.token()!;
    if (!/^-?\d{1,19}$/.test(ts)) return c.fail(`bad timestamp "${ts.slice(0, 24)}"`);
    timestampMs = BigInt(ts);
    c.blanks();
  }
  if (!c.done() && c.peek() !== '#') return c.fail('unexpected text after the sample');
  return {
    ok: true,
    value: timestampMs === undefined ? { name, labels, value } : { name, labels, value, timestampMs },
  };
}

/** `name` or `name{label="value",...}`: which series to read. */
export function parseSelector(
  text: string,
): { ok: true; name: string; labels: Map<string, string> } | { ok: false; reason: string } {
  const c = new Cursor(text);
  const name = c.word(NAME_START, NAME_CHAR);
  if (name === undefined) return { ok: false, reason: 'expected a metric name' };
  const labels = new Map<string, string>();
  if (c.peek() === '{') {
    const r = readLabels(c, labels);
    if (r !== undefined) return { ok: false, reason: r };
  }
  if (!c.done()) return { ok: false, reason: `unexpected "${text.slice(c.at, c.at + 16)}" after the selector` };
  return { ok: true, name, labels };
}

/** Every sample of `name` whose labels include all of `want`. Malformed lines are skipped and
 *  counted: one bad series elsewhere on the page must not hide the counter. */
export function findSamples(text: string, name: string, want: ReadonlyMap<string, string>) {
  const found: Sample[] = [];
  let malformed = 0;
  for (const line of text.split('\n')) {
    // Cheap filter first: most of a node_exporter page is other metrics.
    if (!line.includes(name)) continue;
    const r = parseLine(line.endsWith('\r') ? line.slice(0, -1) : line);
    if (!r.ok) {
      malformed++;
      continue;
    }
    const s = r.value;
    if (s === undefined || s.name !== name) continue;
    let match = true;
    for (const [k, v] of want) if (s.labels.get(k) !== v) match = false;
    if (match) found.push(s);
  }
  return { found, malformed };
}

/** Reads {a="x",b="y"} at the cursor into `out`; returns why it is malformed, or undefined. */
function readLabels(c: Cursor, out: Map<string, string>): string | undefined {
  c.next(); // {
  for (;;) {
    c.blanks();
    if (c.peek() === '}') {
      c.next();
      return undefined;
    }
    const key = c.word(LABEL_START, LABEL_CHAR);
    if (key === undefined) return 'expected a label name';
    c.blanks();
    if (c.next() !== '=') return `expected = after ${key}`;
    c.blanks();
    if (c.next() !== '"') return `expected a quoted value for ${key}`;
    let value = '';
    for (;;) {
      const ch = c.next();
      if (ch === undefined) return `unterminated value of ${key}`;
      if (ch === '"') break;
      if (ch === '\\') {
        const esc = c.next();
        if (esc === 'n') value += '\n';
        else if (esc === '\\' || esc === '"') value += esc;
        else return `bad escape \\${esc ?? ''} in ${key}`;
      } else value += ch;
    }
    if (out.has(key)) return `label ${key} given twice`;
    out.set(key, value);
    c.blanks();
    const sep = c.next();
    if (sep === '}') return undefined;
    if (sep !== ',') return 'expected , or } in the label set';
  }
}

class Cursor {
  at = 0;
  constructor(private readonly s: string) {}
  done(): boolean {
    return this.at >= this.s.length;
  }
  peek(): string | undefined {
    return this.s[this.at];
  }
  next(): string | undefined {
    return this.s[this.at++];
  }
  blanks(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.at++;
  }
  word(start: RegExp, rest: RegExp): string | undefined {
    const from = this.at;
    if (!start.test(this.peek() ?? '')) return undefined;
    this.at++;
    while (rest.test(this.peek() ?? '')) this.at++;
    return this.s.slice(from, this.at);
  }
  /** Up to the next blank. */
  token(): string | undefined {
    const from = this.at;
    while (!this.done() && this.peek() !== ' ' && this.peek() !== '\t') this.at++;
    return this.at > from ? this.s.slice(from, this.at) : undefined;
  }
  fail(reason: string): { ok: false; reason: string } {
    return { ok: false, reason: `${reason} at column ${this.at + 1}` };
  }
}

/**
 * A small PromQL reader for the checks the alert and dashboard tests make
 * (selectors and their matchers, range functions, counters outside rate).
 * Syntax itself is judged by promtool, never by this file: it only has to
 * read expressions promtool accepts.
 */

export interface Matcher {
  label: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

export interface Selector {
  /** Metric name. */
  name: string;
  matchers: Matcher[];
  /** The range of `name{...}[range]`, if any (Grafana variables kept as written). */
  range: string | null;
  /** The function whose direct argument this selector is, if any (`rate` in `rate(x[5m])`). */
  enclosingFunction: string | null;
}

type TokenKind = 'ident' | 'string' | 'braces' | 'brackets' | 'lparen' | 'rparen' | 'number' | 'other';

interface Token {
  kind: TokenKind;
  text: string;
}

const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const OTHER_KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);

const RATE_FUNCTIONS = new Set(['rate', 'irate', 'increase']);

function readQuoted(expr: string, start: number): number {
  const quote = expr[start];
  let i = start + 1;
  while (i < expr.length && expr[i] !== quote) {
    if (expr[i] === '\\' && quote !== '`') i += 1;
    i += 1;
  }
  if (i >= expr.length) throw new Error(`unterminated string in ${expr}`);
  return i + 1;
}

function readBlock(expr: string, start: number, close: string): number {
  let i = start + 1;
  while (i < expr.length && expr[i] !== close) {
    const c = expr[i];
    i = c === '"' || c === "'" || c === '`' ? readQuoted(expr, i) : i + 1;
  }
  if (i >= expr.length) throw new Error(`unterminated ${expr[start]} in ${expr}`);
  return i + 1;
}

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i] as string;
    if (/\s/.test(c)) {
      i += 1;
    } else if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i += 1;
    } else if (/[A-Za-z_:]/.test(c)) {
      const m = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(expr.slice(i));
      const text = m?.[0] ?? c;
      tokens.push({ kind: 'ident', text });
      i += text.length;
    } else if (/[0-9.]/.test(c)) {
      const m = /^[0-9.]+(?:[eE][+-]?[0-9]+)?[a-zA-Z]*/.exec(expr.slice(i));
      const text = m?.[0] ?? c;
      tokens.push({ kind: 'number', text });
      i += text.length;
    } else if (c === '"' || c === "'" || c === '`') {
      const end = readQuoted(expr, i);
      tokens.push({ kind: 'string', text: expr.slice(i, end) });
      i = end;
    } else if (c === '{') {
      const end = readBlock(expr, i, '}');
      tokens.push({ kind: 'braces', text: expr.slice(i + 1, end - 1) });
      i = end;
    } else if (c === '[') {
      const end = readBlock(expr, i, ']');
      tokens.push({ kind: 'brackets', text: expr.slice(i + 1, end - 1).trim() });
      i = end;
    } else if (c === '(') {
      tokens.push({ kind: 'lparen', text: c });
      i += 1;
    } else if (c === ')') {
      tokens.push({ kind: 'rparen', text: c });
      i += 1;
    } else {
      tokens.push({ kind: 'other', text: c });
      i += 1;
    }
  }
  return tokens;
}

function unquote(value: string): string {
  const body = value.slice(1, -1);
  return value.startsWith('`') ? body : body.replace(/\\(.)/g, '$1');
}

export function parseMatchers(body: string): Matcher[] {
  const matchers: Matcher[] = [];
  const re = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)\s*,?/gy;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(body)) !== null) {
    const [whole, label, op, value] = m;
    if (whole === '' || label === undefined || op === undefined || value === undefined) break;
    matchers.push({ label, op: op as Matcher['op'], value: unquote(value) });
    consumed = re.lastIndex;
  }
  if (body.slice(consumed).trim() !== '') throw new Error(`cannot read matchers {${body}}`);
  return matchers;
}

/** Every vector selector of `expr`, with its matchers, range and directly enclosing function. */
export function selectors(expr: string): Selector[] {
  const tokens = tokenize(expr);
  const found: Selector[] = [];
  for (let i = 0; i < tokens.length; i += 1) {
    const token = tokens[i] as Token;
    if (token.kind !== 'ident') continue;
    const next = tokens[i + 1];
    if (LABEL_LIST_KEYWORDS.has(token.text) && next?.kind === 'lparen') {
      // A label list: by (job, instance). Skip to its closing paren.
      let j = i + 2;
      while (j < tokens.length && tokens[j]?.kind !== 'rparen') j += 1;
      i = j;
      continue;
    }
    if (next?.kind === 'lparen') continue; // a function call or aggregation
    if (AGGREGATIONS.has(token.text) || LABEL_LIST_KEYWORDS.has(token.text) || OTHER_KEYWORDS.has(token.text)) continue;
    const prev = tokens[i - 1];
    if (prev?.kind === 'ident' && prev.text === 'offset') continue;

    let j = i + 1;
    let matchers: Matcher[] = [];
    if (tokens[j]?.kind === 'braces') {
      matchers = parseMatchers((tokens[j] as Token).text);
      j += 1;
    }
    let range: string | null = null;
    if (tokens[j]?.kind === 'brackets') {
      range = (tokens[j] as Token).text;
      j += 1;
    }
    const open = tokens[i - 1];
    const fn = tokens[i - 2];
    const close = tokens[j];
    const enclosingFunction =
      open?.kind === 'lparen' && fn?.kind === 'ident' && close?.kind === 'rparen' && !AGGREGATIONS.has(fn.text)
        ? fn.text
        : null;
    found.push({ name: token.text, matchers, range, enclosingFunction });
  }
  return found;
}

/** Names of the metrics `expr` selects. */
export function metricNames(expr: string): string[] {
  return [...new Set(selectors(expr).map((s) => s.name))];
}

/** Whether `s` is the direct range argument of rate(), irate() or increase(). */
export function isInsideRate(s: Selector): boolean {
  return s.range !== null && s.enclosingFunction !== null && RATE_FUNCTIONS.has(s.enclosingFunction);
}

/** Every function call that takes a range vector, with the range it was given. */
export function rangeArguments(expr: string): Array<{ fn: string | null; name: string; range: string }> {
  return selectors(expr)
    .filter((s): s is Selector & { range: string } => s.range !== null)
    .map((s) => ({ fn: s.enclosingFunction, name: s.name, range: s.range }));
}

/** Whether the expression calls rate(), irate() or increase() at all (for counting calls against selectors). */
export function rateCallCount(expr: string): number {
  return tokenize(expr).filter(
    (t, i, all) => t.kind === 'ident' && RATE_FUNCTIONS.has(t.text) && all[i + 1]?.kind === 'lparen',
  ).length;
}

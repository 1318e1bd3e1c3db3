/**
 * src/core is pure: it reaches no module with I/O (through any chain of
 * imports), reads no clock, draws no random number and touches no `process`.
 * `now` and random sources are arguments. Read with the TypeScript parser, so
 * comments and strings never count.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const CORE = join(SRC, 'core');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

function parse(path: string, text = readFileSync(path, 'utf8')): ts.SourceFile {
  return ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true);
}

/** Module specifiers a file loads at run time (type-only imports and exports load nothing). */
function runtimeImports(file: ts.SourceFile): string[] {
  const out: string[] = [];
  for (const s of file.statements) {
    if (ts.isImportDeclaration(s) && !s.importClause?.isTypeOnly && ts.isStringLiteral(s.moduleSpecifier)) {
      const named = s.importClause?.namedBindings;
      const onlyTypes =
        s.importClause !== undefined &&
        s.importClause.name === undefined &&
        named !== undefined &&
        ts.isNamedImports(named) &&
        named.elements.length > 0 &&
        named.elements.every((e) => e.isTypeOnly);
      if (!onlyTypes) out.push(s.moduleSpecifier.text);
    }
    if (ts.isExportDeclaration(s) && !s.isTypeOnly && s.moduleSpecifier && ts.isStringLiteral(s.moduleSpecifier))
      out.push(s.moduleSpecifier.text);
  }
  return out;
}

/** Every package or builtin reached from `roots` through run-time imports, as "module (via file)". */
function reachedModules(roots: readonly string[]): string[] {
  const seen = new Set<string>();
  const reached: string[] = [];
  const queue = [...roots];
  while (queue.length > 0) {
    const path = queue.pop() as string;
    if (seen.has(path)) continue;
    seen.add(path);
    for (const spec of runtimeImports(parse(path))) {
      if (spec.startsWith('.')) queue.push(resolve(dirname(path), spec.replace(/\.js$/, '.ts')));
      else reached.push(`${spec} (via ${relative(SRC, path)})`);
    }
  }
  return reached;
}

/** Each clock read, random draw or use of `process` in a file, as "file:line what". */
function impureCalls(file: ts.SourceFile): string[] {
  const found: string[] = [];
  const at = (node: ts.Node, what: string) => {
    const line = file.getLineAndCharacterOfPosition(node.getStart()).line + 1;
    found.push(`${relative(SRC, file.fileName)}:${line} ${what}`);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression)) {
      const name = `${node.expression.text}.${node.name.text}`;
      if (['Date.now', 'Math.random', 'performance.now', 'crypto.randomUUID', 'crypto.getRandomValues'].includes(name))
        at(node, name);
    }
    if (
      ts.isNewExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'Date' &&
      (node.arguments?.length ?? 0) === 0
    ) {
      at(node, 'new Date() (the clock)');
    }
    if (ts.isIdentifier(node) && ['process', 'performance', 'crypto', 'globalThis'].includes(node.text)) {
      const parent = node.parent;
      const isMemberName =
        (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
        ((ts.isPropertyAssignment(parent) || ts.isPropertySignature(parent) || ts.isPropertyDeclaration(parent)) &&
          parent.name === node);
      if (!isMemberName) at(node, `${node.text} (a global with I/O, or a local that hides it)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe('src/core is pure', () => {
  const files = sourceFiles(CORE);

  it('reaches no builtin or package through any chain of imports', () => {
    expect(files.length).to.be.greaterThan(20);
    expect(reachedModules(files)).to.deep.equal([]);
  });

  it('reads no clock, draws no random number and touches no process', () => {
    expect(files.flatMap((f) => impureCalls(parse(f)))).to.deep.equal([]);
  });

  it('the checks find each kind of impurity', () => {
    const text = [
      "import { readFileSync } from 'node:fs';",
      "import type { Stats } from 'node:fs';",
      'const a = Date.now();',
      'const b = new Date();',
      'const c = new Date(0);',
      'const d = Math.random();',
      'const e = performance.now();',
      'const f = process.hrtime();',
      'function g(process: number) { return process; }',
      'const h = { process: 1 }.process;',
    ].join('\n');
    const file = parse(join(CORE, 'example.ts'), text);
    expect(runtimeImports(file)).to.deep.equal(['node:fs']);
    expect(impureCalls(file).map((f) => f.replace(/^core\/example\.ts:/, ''))).to.deep.equal([
      '3 Date.now',
      '4 new Date() (the clock)',
      '6 Math.random',
      '7 performance.now',
      '7 performance (a global with I/O, or a local that hides it)',
      '8 process (a global with I/O, or a local that hides it)',
      '9 process (a global with I/O, or a local that hides it)',
      '9 process (a global with I/O, or a local that hides it)',
    ]);
  });
});

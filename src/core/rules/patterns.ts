/**
 * Regular expressions from configuration. JavaScript has no inline flags, so
 * the common `(?i)` prefix is accepted and turned into the `i` flag.
 */
export function compilePattern(source: string): RegExp {
  const insensitive = source.startsWith('(?i)');
  return new RegExp(insensitive ? source.slice(4) : source, insensitive ? 'i' : '');
}

export function compilePatterns(sources: readonly string[]): RegExp[] {
  return sources.map(compilePattern);
}

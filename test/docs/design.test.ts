/**
 * docs/design.md against the code: the registry example validates and holds
 * every field of the schema, the state table is the state machine's, the stuck
 * kinds are the planner's, and the metrics table lists exactly the families
 * the agent registers, with their types and labels.
 */
import { expect } from 'chai';
import { Registry } from 'prom-client';
import type { z } from 'zod';
import { PROJECT_STATES, STUCK_KINDS, TRANSITIONS } from '../../src/index.js';
import { createMetricFamilies } from '../../src/metrics/definitions.js';
import { documentSchema, projectSchema, validateDocument } from '../../src/registry/schema.js';
import { codeWords, fencedBlock, tableRows } from './markdown.js';

const DESIGN = 'docs/design.md';

function example(): Record<string, unknown> & { projects: Record<string, unknown>[] } {
  return JSON.parse(fencedBlock(DESIGN, '<!-- registry-example', 'json')) as ReturnType<typeof example>;
}

/** The object schema inside defaults, nullables and optionals, or the array's element; null for anything else. */
function unwrap(schema: z.ZodType): { object: Record<string, z.ZodType> } | { array: z.ZodType } | null {
  let s = schema;
  for (;;) {
    const def = s._zod.def as {
      type: string;
      innerType?: z.ZodType;
      element?: z.ZodType;
      shape?: Record<string, z.ZodType>;
    };
    if ((def.type === 'default' || def.type === 'nullable' || def.type === 'optional') && def.innerType)
      s = def.innerType;
    else if (def.type === 'object' && def.shape) return { object: def.shape };
    else if (def.type === 'array' && def.element) return { array: def.element };
    else return null;
  }
}

/**
 * Every key an object schema names, at every depth, that no value of `examples`
 * at that place shows: "projects[].completion.evidence[].weight".
 */
function missingFields(schema: z.ZodType, examples: unknown[], where: string): string[] {
  const shape = unwrap(schema);
  if (shape === null) return [];
  if ('array' in shape) {
    const items = examples.filter(Array.isArray).flat();
    return missingFields(shape.array, items, `${where}[]`);
  }
  const objects = examples.filter(
    (e): e is Record<string, unknown> => e !== null && typeof e === 'object' && !Array.isArray(e),
  );
  const missing: string[] = [];
  for (const [key, child] of Object.entries(shape.object)) {
    const values = objects.map((o) => o[key]).filter((v) => v !== undefined);
    const path = where === '' ? key : `${where}.${key}`;
    if (values.length === 0) missing.push(path);
    else
      missing.push(
        ...missingFields(
          child,
          values.filter((v) => v !== null),
          path,
        ),
      );
  }
  return missing;
}

describe('docs/design.md', () => {
  describe('the registry example', () => {
    it('is a valid registry for the schema the agent uses', () => {
      const result = validateDocument(example());
      expect(result.ok ? [] : result.issues).to.deep.equal([]);
    });

    it('spells out every field: validation adds no default to it', () => {
      const doc = example();
      const result = validateDocument(doc);
      if (!result.ok) throw new Error(result.issues.join('\n'));
      expect(JSON.parse(JSON.stringify(result.document))).to.deep.equal(doc);
    });

    it('shows every field of the document, the queue, the intents and a project, at every depth', () => {
      const doc = example();
      const top = missingFields(documentSchema, [doc], '');
      const projects = missingFields(projectSchema, doc.projects, 'projects[]');
      expect([...top, ...projects]).to.deep.equal([]);
    });
  });

  it('has exactly the moves of the state machine in its state table', () => {
    const rows = tableRows(DESIGN, '<!-- state-table').map(([from = '', to = '']) => [
      ...codeWords(from),
      ...codeWords(to),
    ]);
    const code = PROJECT_STATES.flatMap((from) => TRANSITIONS[from].map((to) => [from, to]));
    expect(rows).to.have.deep.members(code);
    expect(rows).to.have.length(code.length);
  });

  it('lists exactly the stuck kinds the cycle reports', () => {
    const kinds = tableRows(DESIGN, '<!-- stuck-kinds').flatMap(([kind = '']) => codeWords(kind));
    expect(kinds).to.have.members([...STUCK_KINDS]);
    expect(kinds).to.have.length(STUCK_KINDS.length);
  });

  it('lists every metric family the agent defines, with its type and labels, and no other', async () => {
    const documented = tableRows(DESIGN, '<!-- metrics-table').map(([name = '', type = '', labels = '']) => ({
      name: codeWords(name)[0],
      type,
      labels: codeWords(labels).sort(),
    }));
    const families = Object.values(createMetricFamilies(new Registry()));
    const defined = await Promise.all(
      families.map(async (metric) => ({
        name: (await metric.get()).name,
        type: String((await metric.get()).type),
        labels: [...((metric as unknown as { labelNames: readonly string[] }).labelNames ?? [])].sort(),
      })),
    );
    expect(documented).to.have.deep.members(defined);
    expect(documented).to.have.length(defined.length);
  });
});

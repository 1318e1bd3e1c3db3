/**
 * Marker files (docs/design.md#completion-detection): a file from `completionMarkerFiles` in projectDir
 * decides completion, one from `failureMarkerFiles` decides failure. Both
 * weigh 1.0, but only when modified during this attempt: an older one was
 * left by an earlier run and is reported as stale, never evidence. Absent (ENOENT/ENOTDIR) is routine; any other
 * error means the directory could not be read, which is `unavailable`, never "not complete".
 */
import { stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';

import type { AgentConfig } from '../config/keys.js';
import { isStaleMarker } from '../core/rules/completion.js';
import type { Project, StaleMarker } from '../core/model/project.js';
import { errorText, withDeadline } from './deadline.js';
import type { EvidenceGatherer, GatherContext, GatherResult } from './types.js';

const MARKER_WEIGHT = 1.0;

/** Why a configured marker name cannot be used, or null when it names a path inside projectDir. */
export function markerNameProblem(projectDir: string, name: string): string | null {
  if (name.length === 0) return 'empty marker name';
  if (name.includes('\0')) return `marker name ${JSON.stringify(name)} contains a NUL byte`;
  if (isAbsolute(name)) return `marker name ${JSON.stringify(name)} is absolute; it must be relative to projectDir`;
  const rel = relative(projectDir, resolve(projectDir, name));
  if (rel === '') return `marker name ${JSON.stringify(name)} names projectDir itself`;
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    return `marker name ${JSON.stringify(name)} escapes projectDir`;
  }
  return null;
}

type Probe = { present: true; modifiedAtMs: number } | { present: false } | { error: string };

async function probe(path: string): Promise<Probe> {
  try {
    return { present: true, modifiedAtMs: (await stat(path)).mtimeMs };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ENOTDIR: a path component is a file, so the marker cannot exist.
    if (code === 'ENOENT' || code === 'ENOTDIR') return { present: false };
    return { error: errorText(error) };
  }
}

async function findMarker(
  method: 'marker' | 'failure_marker',
  label: string,
  project: Project,
  projectDir: string,
  names: readonly string[],
): Promise<GatherResult> {
  const refused: string[] = [];
  const failures: string[] = [];
  const usable: string[] = [];
  for (const name of names) {
    const problem = markerNameProblem(projectDir, name);
    if (problem === null) usable.push(name);
    else refused.push(problem);
  }
  const probes = await Promise.all(usable.map((name) => probe(resolve(projectDir, name))));
  let found: string | null = null;
  const stale: StaleMarker[] = [];
  for (const [i, p] of probes.entries()) {
    const name = usable[i] ?? '';
    if ('error' in p) failures.push(p.error);
    else if (!p.present) continue;
    // Left by an earlier run: reported, never this attempt's evidence.
    else if (isStaleMarker(p.modifiedAtMs, project))
      stale.push({ method, file: name, modifiedAt: new Date(p.modifiedAtMs).toISOString() });
    else found ??= name;
  }
  const problems = [...refused, ...failures];
  const extra = stale.length > 0 ? { staleMarkers: stale } : {};
  if (found !== null) {
    // A present marker is definitive even when another name could not be checked.
    const evidence = { method, weight: MARKER_WEIGHT, detail: `${label} ${found} present` };
    return problems.length > 0
      ? { evidence, note: `ignored: ${problems.join('; ')}`, ...extra }
      : { evidence, ...extra };
  }
  if (problems.length > 0) return { unavailable: problems.join('; ') };
  return { evidence: null, ...extra };
}

function markerGatherer(
  method: 'marker' | 'failure_marker',
  label: string,
  names: (config: Readonly<AgentConfig>) => readonly string[],
): EvidenceGatherer {
  return {
    method,
    async gather(project: Project, ctx: GatherContext): Promise<GatherResult> {
      if (project.projectDir === null || project.projectDir === '') return { evidence: null };
      const list = names(ctx.config);
      if (list.length === 0) return { evidence: null };
      try {
        return await withDeadline(
          findMarker(method, label, project, project.projectDir, list),
          ctx.config.evidenceTimeoutMs,
          `${label} check in ${project.projectDir}`,
        );
      } catch (error) {
        return { unavailable: errorText(error) };
      }
    },
  };
}

/** `marker`: a completion marker file is present (weight 1.0). */
export const completionMarkerGatherer: EvidenceGatherer = markerGatherer(
  'marker',
  'marker file',
  (c) => c.completionMarkerFiles,
);

/** `failure_marker`: a failure marker file is present (weight 1.0; decides failed). */
export const failureMarkerGatherer: EvidenceGatherer = markerGatherer(
  'failure_marker',
  'failure marker file',
  (c) => c.failureMarkerFiles,
);

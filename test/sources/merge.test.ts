import { expect } from 'chai';
import { newProject, type Project, type ProjectState } from '../../src/core/model/project.js';
import { emptyDocument, type RegistryDocument } from '../../src/core/model/registry-document.js';
import { mergeObserved, pathOf, type Observed } from '../../src/sources/merge.js';
import type { AuditEntry } from '../../src/registry/store.js';
import { HOUR, MIN, T0, aProject, at } from '../helpers/builders.js';

const source = { kind: 'tmux-orchestrator' as const, name: 'to', heal: true };
const ctx = { now: T0, by: 'source@to', hostId: 'h1' };

function row(ref: string, status: string, state: ProjectState, fields: Partial<Project> = {}): Observed {
  return {
    id: `to-${ref}`,
    ref,
    status,
    instance: null,
    state,
    fields: { name: `spec-${ref}`, ...fields },
    startedAt: T0 - 10 * MIN,
    endedAt: null,
    failureReason: `source_${status.toLowerCase()}`,
    extra: { specPath: `/specs/spec-${ref}.md` },
  };
}

function imported(ref: string, state: ProjectState, status: string, fields: Partial<Project> = {}): Project {
  return aProject({
    id: `to-${ref}`,
    state,
    source: { kind: 'tmux-orchestrator', name: 'to', ref, status, heal: true },
    ...fields,
  });
}

function merge(doc: RegistryDocument, items: Observed[], drops: { id: string; reason: string }[] = []) {
  const audit: AuditEntry[] = [];
  const archived: Project[] = [];
  const summary = mergeObserved(
    doc,
    { audit: (e) => audit.push(e), archive: (p) => archived.push(p) },
    source,
    items,
    drops,
    ctx,
  );
  return { summary, audit, archived };
}

function docOf(...projects: Project[]): RegistryDocument {
  return { ...emptyDocument(), projects };
}

describe('merging a source into the registry', () => {
  it('imports a row it has not seen in its mapped state, owned by the source', () => {
    const doc = docOf();
    const { summary, audit } = merge(doc, [row('3', 'processing', 'processing', { session: 'web-1a2b3c4d' })]);
    expect(summary.created).to.equal(1);
    const p = doc.projects[0] as Project;
    expect(p).to.include({
      id: 'to-3',
      state: 'processing',
      name: 'spec-3',
      session: 'web-1a2b3c4d',
      host: 'h1',
      attempts: 1,
      startedAt: at(-10 * MIN),
    });
    expect(p.source).to.deep.include({
      kind: 'tmux-orchestrator',
      name: 'to',
      ref: '3',
      status: 'processing',
      specPath: '/specs/spec-3.md',
    });
    expect(audit[0]).to.include({ type: 'transition', project: 'to-3', from: null, to: 'processing' });
  });

  it('does not import a row first seen finished', () => {
    const doc = docOf();
    expect(
      merge(doc, [row('1', 'COMPLETED', 'completed'), row('2', 'permanently_failed', 'failed')]).summary.created,
    ).to.equal(0);
    expect(doc.projects).to.deep.equal([]);
  });

  it('follows a status change through allowed moves only', () => {
    const doc = docOf(imported('3', 'processing', 'processing'));
    const { summary, audit } = merge(doc, [row('3', 'queued', 'queued')]);
    expect(summary.moved).to.equal(1);
    expect(audit.map((a) => `${String(a['from'])}->${String(a['to'])}`)).to.deep.equal([
      'processing->failed',
      'failed->queued',
    ]);
    expect(doc.projects[0]).to.include({ state: 'queued' });
    expect(doc.projects[0]?.source?.status).to.equal('queued');
  });

  it('keeps the state the agent found while the source’s status stays the same', () => {
    const doc = docOf(imported('3', 'zombie', 'processing'));
    expect(merge(doc, [row('3', 'processing', 'processing')]).summary.moved).to.equal(0);
    expect(doc.projects[0]?.state).to.equal('zombie');
  });

  it('records their finish with their reason and end time', () => {
    const doc = docOf(imported('3', 'processing', 'processing'));
    merge(doc, [{ ...row('3', 'FAILED', 'failed'), endedAt: T0 - MIN }]);
    expect(doc.projects[0]).to.include({ state: 'failed', failureReason: 'source_failed', endedAt: at(-MIN) });
  });

  it('keeps the raw status of a credit pause while the state is processing', () => {
    const doc = docOf(imported('3', 'processing', 'processing'));
    merge(doc, [row('3', 'credit_paused', 'processing')]);
    expect(doc.projects[0]?.state).to.equal('processing');
    expect(doc.projects[0]?.source?.status).to.equal('credit_paused');
  });

  it('never touches a project of the same id it does not own', () => {
    const own = newProject({ id: 'to-3', enqueuedAt: at(-HOUR), name: 'mine' });
    const doc = docOf(own);
    const { summary } = merge(doc, [row('3', 'processing', 'processing')]);
    expect(summary.conflicts).to.deep.equal(['to-3']);
    expect(doc.projects[0]).to.equal(own);
  });

  it('moves a heartbeat forward only', () => {
    const doc = docOf(imported('3', 'processing', 'processing', { heartbeatAt: at(0) }));
    merge(doc, [row('3', 'processing', 'processing', { heartbeatAt: at(-MIN) })]);
    expect(doc.projects[0]?.heartbeatAt).to.equal(at(0));
    merge(doc, [row('3', 'processing', 'processing', { heartbeatAt: at(MIN) })]);
    expect(doc.projects[0]?.heartbeatAt).to.equal(at(MIN));
  });

  it('drops and archives what it is told to drop, of its own projects only', () => {
    const other = newProject({ id: 'to-9', enqueuedAt: at(-HOUR) });
    const doc = docOf(imported('3', 'queued', 'queued'), other);
    const { summary, archived } = merge(
      doc,
      [],
      [
        { id: 'to-3', reason: 'row 3 is gone' },
        { id: 'to-9', reason: 'not mine' },
      ],
    );
    expect(summary.dropped).to.equal(1);
    expect(archived.map((p) => p.id)).to.deep.equal(['to-3']);
    expect(doc.projects.map((p) => p.id)).to.deep.equal(['to-9']);
  });

  it('changes nothing when the source shows what the registry holds', () => {
    const doc = docOf();
    merge(doc, [row('3', 'processing', 'processing', { session: 's-1' })]);
    const before = JSON.stringify(doc);
    const { summary } = merge(doc, [row('3', 'processing', 'processing', { session: 's-1' })]);
    expect(summary).to.deep.include({ created: 0, updated: 0, moved: 0, dropped: 0 });
    expect(JSON.stringify(doc)).to.equal(before);
  });

  describe('paths of moves', () => {
    it('are empty between equal states', () => {
      expect(pathOf('processing', 'processing')).to.deep.equal([]);
    });

    it('are the shortest allowed', () => {
      expect(pathOf('queued', 'processing')).to.deep.equal(['processing']);
      expect(pathOf('completed', 'processing')).to.deep.equal(['queued', 'processing']);
      expect(pathOf('zombie', 'queued')).to.deep.equal(['failed', 'queued']);
      expect(pathOf('queued', 'failed')).to.deep.equal(['processing', 'failed']);
    });
  });
});

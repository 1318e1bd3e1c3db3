import { expect } from 'chai';
import type { EvidenceReport } from '../../../src/core/rules/completion.js';
import { LAST_OUTPUT_LINE_CHARS, commandExit, lastOutputOf } from '../../../src/core/rules/exit.js';
import type { Plan } from '../../../src/core/model/plan.js';
import type { Project } from '../../../src/core/model/project.js';
import { reconcile } from '../../../src/core/rules/reconcile.js';
import type { TmuxPane } from '../../../src/core/model/snapshot.js';
import {
  SEC,
  T0,
  aConfig,
  aPane,
  aProject,
  aSnapshot,
  anEvidence,
  anEvidenceReport,
  at,
} from '../../helpers/builders.js';

/** The pane of a launched command (pane pid = the project's pid 1000) that exited with `status`. */
function exited(status: number | null, fields: Partial<TmuxPane> = {}): TmuxPane {
  return aPane({ paneId: '%7', panePid: 1000, paneDead: true, deadStatus: status, deadSignal: null, ...fields });
}

/** Evidence that answered everything, with the dead pane's captured lines. */
function withLines(lines: string[], report: EvidenceReport = anEvidenceReport()): EvidenceReport {
  return { ...report, deadPaneLines: [{ paneId: '%7', lines }] };
}

function run(
  fields: Partial<Project>,
  panes: TmuxPane[],
  report: EvidenceReport | undefined,
  now = T0 + SEC,
  config = aConfig(),
): Plan {
  const project = aProject({ command: launched.command, ...fields });
  const evidence = new Map(report ? [[project.id, report]] : []);
  return reconcile({ projects: [project], snapshot: aSnapshot({ panes }), evidence, config, now });
}

/** A project the agent launched: it has a command, and its pid is the pane's. */
const launched = { pid: 1000, command: ['sh', '-c', 'work'] };

describe('the exit of a launched command', () => {
  describe('commandExit', () => {
    it("reads the status of the dead pane that is the project's process", () => {
      expect(commandExit(launched, { panes: [exited(3)] })).to.deep.equal({
        paneId: '%7',
        status: 3,
        signal: null,
        sessionDead: true,
      });
    });

    it('reads a signal as 128 + its number, as a shell reports it', () => {
      expect(commandExit(launched, { panes: [exited(null, { deadSignal: 9 })] })).to.deep.include({
        status: 137,
        signal: 9,
      });
    });

    it('knows no exit when the dead pane is not the recorded process, the project was not launched, or tmux did not say', () => {
      expect(commandExit({ ...launched, pid: 4242 }, { panes: [exited(3)] })).to.equal(null);
      expect(commandExit({ ...launched, command: null }, { panes: [exited(3)] })).to.equal(null);
      expect(commandExit(launched, { panes: [exited(null)] })).to.equal(null);
      expect(commandExit(launched, { panes: [aPane({ panePid: 1000 })] })).to.equal(null);
    });

    it('says the session still runs something when another pane lives', () => {
      expect(
        commandExit(launched, { panes: [exited(3), aPane({ paneId: '%8', panePid: 1001 })] })?.sessionDead,
      ).to.equal(false);
    });
  });

  describe('lastOutputOf', () => {
    it('keeps the last 20 non-blank lines in order, repeats included', () => {
      const lines = [...Array.from({ length: 30 }, (_, i) => `line ${i}`), '', 'again', 'again'];
      const out = lastOutputOf(lines);
      expect(out).to.have.length(20);
      expect(out[0]).to.equal('line 12');
      expect(out.slice(-2)).to.deep.equal(['again', 'again']);
    });

    it('strips escape sequences and control characters, and caps each line', () => {
      const long = 'x'.repeat(1000);
      expect(
        lastOutputOf(['\u001b[31mfatal:\u001b[0m key\u0007 expired\r', '\u001b]0;title\u0007ok\tdone', long]),
      ).to.deep.equal(['fatal: key expired', 'ok done', `${'x'.repeat(LAST_OUTPUT_LINE_CHARS - 1)}…`]);
    });
  });

  describe('reconcile', () => {
    it('fails a non-zero exit at once with exit_status, its status and last output, and closes the session', () => {
      const plan = run({}, [exited(3)], withLines(['starting', 'fatal: API key expired']));
      expect(plan.transitions).to.have.length(1);
      expect(plan.transitions[0]).to.deep.include({ project: 'p1', from: 'processing', to: 'failed' });
      expect(plan.transitions[0]?.patch).to.deep.equal({
        exitStatus: 3,
        lastOutput: ['starting', 'fatal: API key expired'],
        failureReason: 'exit_status',
      });
      expect(plan.transitions[0]?.reason).to.equal(
        'exit_status: the launched command exited with status 3; last output: "fatal: API key expired"',
      );
      expect(plan.actions.map((a) => [a.kind, a.project, 'session' in a ? a.session : null, a.then])).to.deep.equal([
        ['kill_session', 'p1', 'w-1', undefined],
      ]);
      expect(plan.detections).to.deep.equal([]);
    });

    it('completes an exit with status 0 (weight 1.0 by default) and closes the session', () => {
      const plan = run({}, [exited(0)], withLines(['done']));
      expect(plan.transitions.map((t) => t.to)).to.deep.equal(['completed']);
      expect(plan.transitions[0]?.patch).to.deep.include({ exitStatus: 0, lastOutput: ['done'] });
      expect(plan.transitions[0]?.patch?.completion?.evidence).to.deep.equal([
        { method: 'exit', weight: 1, detail: 'the launched command exited with status 0' },
      ]);
      expect(plan.actions.map((a) => a.kind)).to.deep.equal(['kill_session']);
    });

    it('lets an exit with status 0 below the threshold wait for other evidence (the phantom rules apply)', () => {
      const config = aConfig({ completionExitZeroWeight: 0.5 });
      expect(run({}, [exited(0)], withLines([]), T0 + SEC, config).transitions).to.deep.equal([]);
      const withOutput = run(
        {},
        [exited(0)],
        withLines([], anEvidenceReport([anEvidence('output', 0.5)])),
        T0 + SEC,
        config,
      );
      expect(withOutput.transitions.map((t) => t.to)).to.deep.equal(['completed']);
    });

    it('completes a non-zero exit whose run left a fresh completion marker: a finished project is never failed', () => {
      const plan = run({}, [exited(3)], withLines(['cleanup failed'], anEvidenceReport([anEvidence('marker')])));
      expect(plan.transitions.map((t) => t.to)).to.deep.equal(['completed']);
      expect(plan.transitions[0]?.patch).to.deep.include({ exitStatus: 3, lastOutput: ['cleanup failed'] });
    });

    it('holds the failure while some evidence could not be read', () => {
      const report = withLines([], anEvidenceReport([], [{ method: 'git', error: 'timeout' }]));
      const plan = run({}, [exited(3)], report);
      expect(plan.transitions).to.deep.equal([]);
      expect(plan.actions).to.deep.equal([]);
    });

    it('names the signal a status above 128 stands for: the launcher passes on a command a signal killed as 128 + n', () => {
      const plan = run({}, [exited(143)], withLines(['Terminated']));
      expect(plan.transitions[0]?.patch).to.deep.include({ exitStatus: 143, failureReason: 'exit_status' });
      expect(plan.transitions[0]?.reason).to.equal(
        'exit_status: the launched command exited with status 143 (128 + 15: killed by signal 15); last output: "Terminated"',
      );
    });

    it('records a signal death as exit_status 128 + n', () => {
      const plan = run({}, [exited(null, { deadSignal: 9 })], withLines([]));
      expect(plan.transitions[0]?.patch).to.deep.include({
        exitStatus: 137,
        failureReason: 'exit_status',
        lastOutput: [],
      });
      expect(plan.transitions[0]?.reason).to.equal('exit_status: the launched command killed by signal 9 (status 137)');
    });

    it('leaves a session open while another pane of it lives', () => {
      const plan = run({}, [exited(3), aPane({ paneId: '%8', panePid: 2001 })], withLines([]));
      expect(plan.transitions.map((t) => t.to)).to.deep.equal(['failed']);
      expect(plan.actions).to.deep.equal([]);
    });

    it('keeps the phantom grace for a project the agent did not launch (a reported start), even in a kept pane', () => {
      const reported: Partial<Project> = { command: null };
      expect(run(reported, [exited(3)], withLines([]), T0 + 900 * SEC).transitions).to.deep.equal([]);
      expect(run(reported, [exited(3)], withLines([]), T0 + 900 * SEC + 1).transitions[0]?.patch).to.deep.include({
        failureReason: 'phantom',
      });
    });

    it('fails a timing-out project whose command exited with its exit status, not as a timeout', () => {
      const project: Partial<Project> = { state: 'timing_out', timingOutSince: at(0) };
      const plan = run(project, [exited(2)], withLines(['killed by the test']));
      expect(plan.transitions.map((t) => [t.from, t.to, t.patch?.failureReason])).to.deep.equal([
        ['timing_out', 'failed', 'exit_status'],
      ]);
    });

    it("closes a finished project's session at once when it holds only dead panes", () => {
      const done: Partial<Project> = { state: 'completed', endedAt: at(0), pid: null };
      const plan = run(done, [exited(0)], undefined, T0 + SEC);
      expect(plan.actions.map((a) => [a.kind, a.project])).to.deep.equal([['kill_session', 'p1']]);
      expect(plan.actions[0]?.reason).to.equal(
        'session w-1 of completed project p1 on the default tmux server holds only dead panes: nothing runs in it',
      );
    });
  });
});

import { expect } from 'chai';
import { parseSourceTime, readQueueRow, specStem, stateOfStatus } from '../../src/sources/tmux-orchestrator/rows.js';

describe('Tmux-Orchestrator rows', () => {
  describe('status mapping', () => {
    const cases: [string, string][] = [
      ['queued', 'queued'],
      ['processing', 'processing'],
      ['recovered', 'processing'],
      ['credit_paused', 'processing'],
      ['zombie', 'zombie'],
      ['completed', 'completed'],
      ['COMPLETED', 'completed'],
      ['failed', 'failed'],
      ['FAILED', 'failed'],
      ['retried', 'failed'],
      ['permanently_failed', 'failed'],
    ];
    for (const [status, state] of cases) {
      it(`maps ${status} to ${state}`, () => {
        expect(stateOfStatus(status)).to.equal(state);
      });
    }

    it('knows no other value', () => {
      expect(stateOfStatus('merged')).to.equal(null);
      expect(stateOfStatus('pending')).to.equal(null);
      expect(stateOfStatus(null)).to.equal(null);
    });
  });

  describe('times', () => {
    it('reads REAL epoch seconds', () => {
      expect(parseSourceTime(1700000000.5)).to.equal(1_700_000_000_500);
    });

    it('reads epoch seconds written as text', () => {
      expect(parseSourceTime('1700000000')).to.equal(1_700_000_000_000);
    });

    it('reads SQLite CURRENT_TIMESTAMP text as UTC', () => {
      expect(parseSourceTime('2025-08-20 14:03:07')).to.equal(Date.UTC(2025, 7, 20, 14, 3, 7));
    });

    it('reads Python isoformat() without an offset as local time, microseconds and all', () => {
      const tz = process.env['TZ'];
      process.env['TZ'] = 'America/New_York';
      try {
        // New York is 4 hours behind UTC in August.
        expect(parseSourceTime('2025-08-20T14:03:07.123456')).to.equal(Date.UTC(2025, 7, 20, 18, 3, 7, 123));
      } finally {
        if (tz === undefined) delete process.env['TZ'];
        else process.env['TZ'] = tz;
      }
    });

    it('honours an explicit offset', () => {
      expect(parseSourceTime('2025-08-20T14:03:07+02:00')).to.equal(Date.UTC(2025, 7, 20, 12, 3, 7));
      expect(parseSourceTime('2025-08-20T14:03:07Z')).to.equal(Date.UTC(2025, 7, 20, 14, 3, 7));
    });

    it('reads an epoch in milliseconds as milliseconds', () => {
      expect(parseSourceTime(1_700_000_000_500)).to.equal(1_700_000_000_500);
    });

    it('gives null for absent or unreadable values', () => {
      for (const v of [null, undefined, '', 'yesterday', 0, -5, '2025-13-01 00:00:00', {}])
        expect(parseSourceTime(v), JSON.stringify(v)).to.equal(null);
    });
  });

  describe('a row', () => {
    it('takes session_name first, then main_session, then orchestrator_session', () => {
      expect(
        readQueueRow({ id: 1, status: 'processing', session_name: 's', main_session: 'm', orchestrator_session: 'o' })
          ?.session,
      ).to.equal('s');
      expect(
        readQueueRow({ id: 1, status: 'processing', session_name: null, main_session: 'm', orchestrator_session: 'o' })
          ?.session,
      ).to.equal('m');
      expect(
        readQueueRow({ id: 1, status: 'processing', main_session: '', orchestrator_session: 'o' })?.session,
      ).to.equal('o');
      expect(readQueueRow({ id: 1, status: 'processing' })?.session).to.equal(null);
    });

    it('is skipped without a positive integer id', () => {
      expect(readQueueRow({ id: 'x', status: 'queued' })).to.equal(null);
      expect(readQueueRow({ id: 0, status: 'queued' })).to.equal(null);
    });

    it('keeps the raw status and reads each time column in its own format', () => {
      const row = readQueueRow({
        id: 4,
        status: 'credit_paused',
        enqueued_at: 1700000000,
        started_at: '2025-01-02 03:04:05',
        completed_at: null,
        priority: 3,
      });
      expect(row).to.include({
        ref: '4',
        status: 'credit_paused',
        enqueuedAt: 1_700_000_000_000,
        startedAt: Date.UTC(2025, 0, 2, 3, 4, 5),
        completedAt: null,
        priority: 3,
      });
    });

    it('is named after its spec file', () => {
      expect(specStem('/home/u/specs/mobile-app.md')).to.equal('mobile-app');
      expect(specStem('spec')).to.equal('spec');
      expect(specStem(null)).to.equal(null);
    });
  });
});

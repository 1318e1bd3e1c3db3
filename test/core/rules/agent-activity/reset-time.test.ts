import { expect } from 'chai';
import {
  isKnownTimeZone,
  parseResetTime,
  type ResetTimeOptions,
} from '../../../../src/core/rules/agent-activity/reset-time.js';

const utc = (iso: string): number => Date.parse(iso);
const berlin: ResetTimeOptions = { defaultTimeZone: 'Europe/Berlin' };
/** Parse `text` as first seen at `seenAt` (ISO, UTC) and give the reset as ISO, or null. */
function reset(text: string, seenAt: string, options = berlin): string | null {
  const at = parseResetTime(text, utc(seenAt), options);
  return at === null ? null : new Date(at).toISOString();
}

describe('agent activity: reset time', () => {
  describe('clock times', () => {
    it('reads am/pm with minutes and an IANA zone', () => {
      expect(reset("You've hit your session limit · resets 5:40pm (Europe/Berlin)", '2026-07-19T14:00:00Z')).to.equal(
        '2026-07-19T15:40:00.000Z',
      );
    });

    it('reads an hour without minutes in another zone than the default', () => {
      expect(reset("You've hit your limit · resets 11am (America/New_York)", '2026-07-19T12:00:00Z')).to.equal(
        '2026-07-19T15:00:00.000Z',
      );
    });

    it('reads a time without a zone in the default zone', () => {
      expect(reset("You've hit your limit · resets 5pm", '2026-07-19T12:00:00Z')).to.equal('2026-07-19T15:00:00.000Z');
    });

    it('reads 12am as midnight and 12pm as noon', () => {
      expect(reset('resets 12am (Europe/London)', '2026-07-19T20:00:00Z')).to.equal('2026-07-19T23:00:00.000Z');
      expect(reset('resets 12pm (Europe/London)', '2026-07-19T08:00:00Z')).to.equal('2026-07-19T11:00:00.000Z');
    });

    it('reads the older "reset at" wording', () => {
      const text = 'Claude usage limit reached. Your limit will reset at 9am (America/Chicago).';
      expect(reset(text, '2026-12-22T02:00:00Z')).to.equal('2026-12-22T15:00:00.000Z');
    });

    it('reads Etc/GMT+5 as five hours behind UTC, as IANA means it', () => {
      expect(reset('Your limit will reset at 1pm (Etc/GMT+5).', '2025-06-14T12:00:00Z')).to.equal(
        '2025-06-14T18:00:00.000Z',
      );
    });

    it("reads Codex's 12-hour time without a zone", () => {
      const text =
        "You've hit your usage limit. Visit https://chatgpt.com/codex/settings/usage to purchase more credits or try again at 3:28 PM.";
      expect(reset(text, '2026-07-19T12:00:00Z')).to.equal('2026-07-19T13:28:00.000Z');
    });

    it("reads Gemini's GMT offsets", () => {
      expect(
        reset(
          'Usage limit reached for gemini-3-flash-preview. Access resets at 10:57 PM GMT-3.',
          '2026-03-16T20:00:00Z',
        ),
      ).to.equal('2026-03-17T01:57:00.000Z');
      expect(reset('Access resets at 11:00 AM GMT+2.', '2026-03-16T07:00:00Z')).to.equal('2026-03-16T09:00:00.000Z');
      expect(reset('Access resets at 11:00 AM GMT+5:30.', '2026-03-16T04:00:00Z')).to.equal('2026-03-16T05:30:00.000Z');
    });

    it('reads a US abbreviation with its fixed offset', () => {
      expect(reset('Access resets at 3:45 PM PST.', '2026-01-10T20:00:00Z')).to.equal('2026-01-10T23:45:00.000Z');
      expect(reset('Access resets at 3:45 PM EDT.', '2026-07-10T12:00:00Z')).to.equal('2026-07-10T19:45:00.000Z');
    });

    it('reads a 24-hour time', () => {
      expect(reset('resets 18:44', '2026-07-19T12:00:00Z')).to.equal('2026-07-19T16:44:00.000Z');
    });
  });

  describe('past times, day rollover and DST', () => {
    it('takes a time already past today for tomorrow', () => {
      expect(reset("You've hit your session limit · resets 2am (Europe/London)", '2026-09-04T22:00:00Z')).to.equal(
        '2026-09-05T01:00:00.000Z',
      );
    });

    it('takes a time passed within the hour for one that has just passed', () => {
      expect(reset("You've hit your limit · resets 5pm", '2026-07-19T15:20:00Z')).to.equal('2026-07-19T15:00:00.000Z');
    });

    it('takes a time passed more than an hour ago for tomorrow', () => {
      expect(reset("You've hit your limit · resets 5pm", '2026-07-19T16:30:00Z')).to.equal('2026-07-20T15:00:00.000Z');
    });

    it('honours a shorter just-passed window', () => {
      expect(
        reset("You've hit your limit · resets 5pm", '2026-07-19T15:20:00Z', { ...berlin, justPassedMs: 60_000 }),
      ).to.equal('2026-07-20T15:00:00.000Z');
    });

    it('crosses a spring-forward night with the new offset', () => {
      // Saturday 23:00 CET; Sunday 5am is CEST (UTC+2).
      expect(reset('resets 5am (Europe/Berlin)', '2026-03-28T22:00:00Z')).to.equal('2026-03-29T03:00:00.000Z');
      expect(reset('resets 11am (America/New_York)', '2026-03-07T20:00:00Z')).to.equal('2026-03-08T15:00:00.000Z');
    });

    it('resolves a wall time the spring-forward skips an hour later', () => {
      expect(reset('resets 2:30am (Europe/Berlin)', '2026-03-29T00:10:00Z')).to.equal('2026-03-29T01:30:00.000Z');
    });

    it('resolves a wall time the fall-back repeats to the later one', () => {
      expect(reset('resets 2:30am (Europe/Berlin)', '2026-10-24T22:00:00Z')).to.equal('2026-10-25T01:30:00.000Z');
    });

    it('crosses a fall-back night with the new offset', () => {
      expect(reset('resets 9am (Europe/Berlin)', '2026-10-24T20:00:00Z')).to.equal('2026-10-25T08:00:00.000Z');
    });
  });

  describe('dates', () => {
    it('reads a month and day with a time', () => {
      expect(reset('Opus weekly limit reached ∙ resets Oct 31, 9am', '2025-10-25T12:00:00Z')).to.equal(
        '2025-10-31T08:00:00.000Z',
      );
    });

    it('reads a month and day alone as the start of that day', () => {
      expect(reset('Opus weekly limit reached ∙ resets Oct 24', '2025-10-20T12:00:00Z')).to.equal(
        '2025-10-23T22:00:00.000Z',
      );
    });

    it('reads "Jul 11 at 12pm" with its zone', () => {
      expect(reset('Resets Jul 11 at 12pm (Asia/Singapore)', '2026-07-06T12:00:00Z')).to.equal(
        '2026-07-11T04:00:00.000Z',
      );
    });

    it("reads Codex's date with an ordinal, a year and a time", () => {
      const text =
        "You've hit your usage limit. Upgrade to Plus to continue using Codex (https://chatgpt.com/explore/plus), or try again at Jul 5th, 2026 8:19 PM.";
      expect(reset(text, '2026-06-05T10:00:00Z')).to.equal('2026-07-05T18:19:00.000Z');
    });

    it('takes a date without a year that is behind for next year', () => {
      expect(reset('resets Jan 2, 9am', '2026-12-30T12:00:00Z')).to.equal('2027-01-02T08:00:00.000Z');
    });

    it('returns an absolute time already past as it is', () => {
      expect(reset('or try again at Dec 29th, 2025 10:15 PM.', '2026-01-05T10:00:00Z')).to.equal(
        '2025-12-29T21:15:00.000Z',
      );
    });
  });

  describe('durations and epochs', () => {
    it("reads Codex's words", () => {
      const text =
        "■ You've hit your usage limit. Upgrade to Pro (https://openai.com/chatgpt/pricing) or try again in 5 days 22 hours 11 minutes.";
      expect(reset(text, '2025-09-19T10:00:00Z')).to.equal('2025-09-25T08:11:00.000Z');
      expect(
        reset("🖐  You've hit your usage limit. ... or try again in 3 hours 2 minutes.", '2025-09-01T10:00:00Z'),
      ).to.equal('2025-09-01T13:02:00.000Z');
    });

    it("reads Gemini's compact form", () => {
      expect(reset('Your quota will reset after 2h52m39s.', '2026-01-01T10:00:00Z')).to.equal(
        '2026-01-01T12:52:39.000Z',
      );
      expect(reset('Your quota will reset after 0s.', '2026-01-01T10:00:00Z')).to.equal('2026-01-01T10:00:00.000Z');
    });

    it("reads Claude's epoch seconds", () => {
      expect(reset('Claude AI usage limit reached|1762952400', '2025-11-12T10:00:00Z')).to.equal(
        '2025-11-12T13:00:00.000Z',
      );
    });
  });

  describe('text it cannot trust', () => {
    it('gives null for an unknown time zone', () => {
      expect(reset("You've hit your limit · resets 5pm (Mars/Olympus_Mons)", '2026-07-19T12:00:00Z')).to.equal(null);
      expect(
        reset("You've hit your limit · resets 5pm", '2026-07-19T12:00:00Z', { defaultTimeZone: 'Nowhere/Else' }),
      ).to.equal(null);
    });

    it('gives null without a time', () => {
      expect(reset("You've hit your usage limit. Try again later.", '2026-07-19T12:00:00Z')).to.equal(null);
      expect(
        reset(
          "🖐 You've hit your usage limit. Upgrade to Pro, or wait for limits to reset (every 5h and every week.).",
          '2026-07-19T12:00:00Z',
        ),
      ).to.equal(null);
    });

    it('gives null for a time or date that does not exist', () => {
      expect(reset('resets 13pm', '2026-07-19T12:00:00Z')).to.equal(null);
      expect(reset('resets 9:75am', '2026-07-19T12:00:00Z')).to.equal(null);
      expect(reset('resets Feb 30, 9am', '2026-02-01T12:00:00Z')).to.equal(null);
    });

    it('gives null for a reset more than 400 days away', () => {
      expect(reset('or try again at Jul 5th, 2030 8:19 PM.', '2026-06-05T10:00:00Z')).to.equal(null);
    });

    it('knows the zones Intl knows', () => {
      expect(isKnownTimeZone('Europe/Berlin')).to.equal(true);
      expect(isKnownTimeZone('Mars/Olympus_Mons')).to.equal(false);
    });
  });
});

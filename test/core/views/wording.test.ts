import { expect } from 'chai';
import { countOf, duration, relative } from '../../../src/core/views/wording.js';

const NOW = Date.parse('2026-12-04T12:00:00.000Z');
const at = (offsetMs: number): string => new Date(NOW + offsetMs).toISOString();

describe('wording', () => {
  describe('relative', () => {
    it('says "ago" for a time past or now, rounded to the second', () => {
      expect(relative(at(0), NOW)).to.equal('0s ago');
      expect(relative(at(-400), NOW)).to.equal('0s ago');
      expect(relative(at(-1600), NOW)).to.equal('2s ago');
      expect(relative(at(-200_000), NOW)).to.equal('3m 20s ago');
    });

    it('never says "ago" for a time still ahead: it counts up to the next whole second', () => {
      expect(relative(at(1), NOW)).to.equal('in 1s');
      expect(relative(at(300), NOW)).to.equal('in 1s');
      expect(relative(at(1000), NOW)).to.equal('in 1s');
      expect(relative(at(11_200), NOW)).to.equal('in 12s');
      expect(relative(at(3_900_000), NOW)).to.equal('in 1h 5m');
    });

    it('passes null and unreadable times through', () => {
      expect(relative(null, NOW)).to.equal('-');
      expect(relative('soon', NOW)).to.equal('soon');
    });
  });

  it('duration keeps two units at most', () => {
    expect([45, 200, 7_500, 97_200].map(duration)).to.deep.equal(['45s', '3m 20s', '2h 5m', '1d 3h']);
  });

  it('countOf puts the noun in the right number', () => {
    expect([countOf(1, 'project'), countOf(2, 'project'), countOf(3, 'process')]).to.deep.equal([
      '1 project',
      '2 projects',
      '3 processes',
    ]);
  });
});

import { expect } from 'chai';
import {
  cleanLine,
  paneTail,
  PANE_TAIL_LIMITS,
  reasonOf,
  stripTerminalCodes,
} from '../../../../src/core/rules/agent-activity/pane-text.js';

const ESC = '\x1b';

describe('agent activity: pane text', () => {
  it('removes colour escapes and keeps the text', () => {
    expect(cleanLine(`${ESC}[1;33mDo you want to proceed?${ESC}[0m${ESC}[39m${ESC}[49m`)).to.equal(
      'Do you want to proceed?',
    );
  });

  it('removes hyperlink and title sequences, cursor moves and a cut-off escape', () => {
    const line = `${ESC}]8;;https://x.test${ESC}\\link${ESC}]8;;${ESC}\\ ${ESC}]0;title\x07${ESC}[2K${ESC}[1Gtext${ESC}[3`;
    expect(cleanLine(line)).to.equal('link text');
  });

  it('drops control and bidirectional-override characters, turns tabs into spaces', () => {
    expect(stripTerminalCodes('a\x00b\x07c\x7fd\u202eevil\u202c\tend')).to.equal('abcdevil end');
  });

  it('removes box borders at both ends and keeps ❯ and wide characters', () => {
    expect(cleanLine('│ ❯ 1. Yes, 继续 进行            │')).to.equal('❯ 1. Yes, 继续 进行');
    expect(cleanLine('╭──────────────────────╮')).to.equal('');
  });

  it('keeps the last non-blank lines, oldest first', () => {
    const capture = ['one', '', 'two', '╰────╯', 'three', '', '', ''].join('\n');
    expect(paneTail(capture, { ...PANE_TAIL_LIMITS, maxLines: 2 })).to.deep.equal(['two', 'three']);
  });

  it('reads only the end of a 10 MB capture of lines', () => {
    const line = `${'x'.repeat(199)}\n`;
    const capture = `${line.repeat(Math.ceil((10 * 1024 * 1024) / line.length))}Do you want to proceed?\n`;
    const tail = paneTail(capture);
    expect(tail).to.have.length(PANE_TAIL_LIMITS.maxLines);
    expect(tail[tail.length - 1]).to.equal('Do you want to proceed?');
  });

  it('keeps the end of a 10 MB line without a newline, up to the line limit', () => {
    const tail = paneTail('y'.repeat(10 * 1024 * 1024));
    expect(tail).to.have.length(1);
    expect(tail[0]).to.have.length(PANE_TAIL_LIMITS.maxLineChars);
    expect(paneTail(`${'z'.repeat(5000)}Allow execution of: 'rm'?`)[0]).to.match(/Allow execution of: 'rm'\?$/);
  });

  it('caps a reason by code points without splitting a surrogate pair', () => {
    const reason = reasonOf(`${'限'.repeat(150)}${'😀'.repeat(100)}`);
    expect([...reason]).to.have.length(201);
    expect(reason.endsWith('😀…')).to.equal(true);
    expect(reasonOf('short line')).to.equal('short line');
  });
});

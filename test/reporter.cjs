// mocha's dot reporter, plus one plain closing line that any CI can read:
// "N passed, N failed, N skipped".
'use strict';
const Mocha = require('mocha');
const { Dot } = Mocha.reporters;

class Reporter extends Dot {
  constructor(runner, options) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const { passes, failures, pending } = runner.stats;
      process.stdout.write(`\n${passes} passed, ${failures} failed, ${pending} skipped\n`);
    });
  }
}

module.exports = Reporter;

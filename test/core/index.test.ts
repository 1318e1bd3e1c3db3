import { expect } from 'chai';
import * as lib from '../../src/index.js';

describe('library entry (src/index.ts)', () => {
  it('exports the pure core and the configuration table', () => {
    for (const name of [
      'transition',
      'reconcile',
      'guard',
      'decideCompletion',
      'evaluateQueueBreaker',
      'newProject',
      'emptyDocument',
      'DEFAULT_CONFIG',
      'PROJECT_STATES',
    ]) {
      expect(lib, name).to.have.property(name);
    }
    expect(lib.DEFAULT_CONFIG.maxProcessRuntimeSec).to.equal(1800);
  });
});

import { expect } from 'chai';
import { EXIT, exitCodeOf } from '../../src/cli/exit-codes.js';
import { IllegalTransitionError } from '../../src/core/rules/state-machine.js';
import {
  ConfigError,
  ConflictError,
  InputError,
  LeaseLostError,
  ListenError,
  RegistryCorruptError,
  RegistryHeldError,
  RegistryUnreadableError,
  UnknownProjectError,
} from '../../src/errors.js';
import { httpStatusOf } from '../../src/server/http-status.js';

describe('error mapping at the edges', () => {
  const cases: [Error, number, number][] = [
    [new InputError('bad'), EXIT.usage, 400],
    [new ConfigError('maxConcurrent', 'bad'), EXIT.usage, 500],
    [new UnknownProjectError('p1'), EXIT.usage, 404],
    [new RegistryHeldError('held'), EXIT.usage, 409],
    [new ListenError('0.0.0.0:1', Object.assign(new Error('in use'), { code: 'EADDRINUSE' })), EXIT.usage, 500],
    [new RegistryUnreadableError('gone'), EXIT.registryUnreadable, 503],
    [new RegistryCorruptError('bad', ['x'], null), EXIT.registryUnreadable, 503],
    [new ConflictError('live'), EXIT.problems, 409],
    [new LeaseLostError('fenced'), EXIT.problems, 409],
    [new IllegalTransitionError('p1', 'queued', 'completed'), EXIT.problems, 409],
    [new Error('a bug'), EXIT.problems, 500],
  ];
  for (const [err, code, status] of cases) {
    it(`maps ${err.name} to exit ${code} and HTTP ${status}`, () => {
      expect(exitCodeOf(err)).to.equal(code);
      expect(httpStatusOf(err)).to.equal(status);
    });
  }
});

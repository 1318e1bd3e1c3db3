/**
 * The JSON store tests' set-up: each test gets a registry path in a fresh
 * temp directory of its own, removed after it.
 */
import { join } from 'node:path';
import { tempDir } from '../helpers/cli.js';

export interface RegistryFile {
  /** The test's temp directory. */
  readonly dir: string;
  /** `registry.json` in it, not created. */
  readonly path: string;
}

/** Registers the hooks in the calling `describe`; read `dir` and `path` inside a test. */
export function aRegistryFilePerTest(): RegistryFile {
  let current: ReturnType<typeof tempDir> | undefined;
  beforeEach(() => {
    current = tempDir();
  });
  afterEach(() => current?.cleanup());
  const dir = (): string => {
    if (!current) throw new Error('a registry file is only there inside a test');
    return current.path;
  };
  return {
    get dir() {
      return dir();
    },
    get path() {
      return join(dir(), 'registry.json');
    },
  };
}

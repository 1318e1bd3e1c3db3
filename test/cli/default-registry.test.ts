import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_BIN, cleanEnv, runCli, tempDir } from '../helpers/cli.js';

/** Run `sh -c script` inside `script(1)`, so the command's stderr is a terminal; resolves with what the terminal showed. */
function onTerminal(
  shellScript: string,
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number; terminal: string }> {
  return new Promise((resolve) => {
    execFile(
      'script',
      ['-qec', shellScript, '/dev/null'],
      { cwd, env: cleanEnv({ ...env, SHELL: '/bin/sh' }), timeout: 30_000 },
      (err, stdout) => {
        resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, terminal: stdout.replace(/\r/g, '') });
      },
    );
  });
}

describe('cli: the default registry', function () {
  this.timeout(60_000);
  let dir: ReturnType<typeof tempDir>;
  let state: string;
  let expected: string;
  beforeEach(() => {
    dir = tempDir('toa-default-');
    state = join(dir.path, 'state');
    expected = join(state, 'tmux-orchestrator-agent', 'registry.json');
  });
  afterEach(() => dir.cleanup());

  function workdir(name: string): string {
    const path = join(dir.path, name);
    mkdirSync(path, { recursive: true });
    return path;
  }

  it('is the same file from every working directory, under XDG_STATE_HOME, and no data/ appears where it runs', async () => {
    const a = workdir('a');
    const b = workdir('b');
    const env = { XDG_STATE_HOME: state };
    expect((await runCli(['enqueue', '--id', 'from-a', '--', 'true'], { cwd: a, env })).code).to.equal(0);
    expect((await runCli(['enqueue', '--id', 'from-b', '--', 'true'], { cwd: b, env })).code).to.equal(0);
    const doc = JSON.parse(readFileSync(expected, 'utf8')) as { projects: { id: string }[] };
    expect(doc.projects.map((p) => p.id)).to.deep.equal(['from-a', 'from-b']);
    expect(existsSync(join(a, 'data'))).to.equal(false);
    expect(existsSync(join(b, 'data'))).to.equal(false);
  });

  for (const [what, value] of [
    ['unset (empty)', ''],
    ['relative', 'relative/state'],
  ] as const) {
    it(`is under ~/.local/state when XDG_STATE_HOME is ${what}`, async () => {
      const home = workdir('home');
      const r = await runCli(['enqueue', '--id', 'p1'], {
        cwd: workdir('w'),
        env: { HOME: home, XDG_STATE_HOME: value },
      });
      expect(r.code, r.stderr).to.equal(0);
      expect(existsSync(join(home, '.local', 'state', 'tmux-orchestrator-agent', 'registry.json'))).to.equal(true);
    });
  }

  it('AGENT_REGISTRY and --registry still choose the file', async () => {
    const w = workdir('w');
    const env = { XDG_STATE_HOME: state, AGENT_REGISTRY: join(dir.path, 'env.json') };
    expect((await runCli(['enqueue', '--id', 'p1'], { cwd: w, env })).code).to.equal(0);
    expect((await runCli(['--registry', 'flag.json', 'enqueue', '--id', 'p2'], { cwd: w, env })).code).to.equal(0);
    expect(existsSync(join(dir.path, 'env.json'))).to.equal(true);
    expect(existsSync(join(w, 'flag.json'))).to.equal(true);
    expect(existsSync(expected)).to.equal(false);
  });

  it('a queue left in ./data is named with the exact command that moves it, once per command, and never moved', async () => {
    const w = workdir('old-queue');
    const old = join(w, 'data', 'registry.json');
    expect((await runCli(['enqueue', '--id', 'old'], { cwd: w, env: { AGENT_REGISTRY: old } })).code).to.equal(0);
    const status = await runCli(['status', '--json'], { cwd: w, env: { XDG_STATE_HOME: state } });
    expect(status.code, status.stderr).to.equal(0);
    expect(JSON.parse(status.stdout).projects).to.deep.equal([]);
    const lines = status.stderr.trim().split('\n');
    expect(lines, status.stderr).to.have.length(1);
    expect(lines[0]).to.include(old).and.include(expected);
    expect(existsSync(old)).to.equal(true);
    expect(existsSync(expected)).to.equal(false);
    // The command it names moves the queue: the default registry then holds the old project.
    const move = /To move that queue: (.*?) {2}\(or keep it/.exec(lines[0] as string)?.[1];
    expect(move, lines[0]).to.be.a('string');
    const moved = await onTerminal(move as string, w, {});
    expect(moved.code, moved.terminal).to.equal(0);
    const after = await runCli(['status', '--json'], { cwd: w, env: { XDG_STATE_HOME: state } });
    expect(JSON.parse(after.stdout).projects.map((p: { id: string }) => p.id)).to.deep.equal(['old']);
    expect(after.stderr).to.equal('');
  });

  it('enqueue names the registry it wrote on a terminal, keeping --json stdout one document', async () => {
    const w = workdir('w');
    const json = join(dir.path, 'out.json');
    const env = { XDG_STATE_HOME: state, AGENT_NODE: process.execPath, AGENT_JS: AGENT_BIN, OUT: json };
    const r = await onTerminal('"$AGENT_NODE" "$AGENT_JS" enqueue --id p1 --json > "$OUT"', w, env);
    expect(r.code, r.terminal).to.equal(0);
    expect(r.terminal.trim()).to.equal(`registry ${expected}`);
    expect(JSON.parse(readFileSync(json, 'utf8'))).to.include({ id: 'p1', state: 'queued' });
    // Not on a terminal: nothing but the answer.
    const piped = await runCli(['enqueue', '--id', 'p2'], { cwd: w, env: { XDG_STATE_HOME: state } });
    expect(piped.stderr).to.equal('');
  });
});

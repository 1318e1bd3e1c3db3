/**
 * A real `redis-server` on a free loopback port, one per test file: no
 * persistence by default, its data in a private directory (so a test can
 * SAVE, stop it and start it again with the same data), killed by `destroy()`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { freePort } from './daemon.js';
import { tempDir } from './cli.js';

export class RedisServer {
  readonly dir = tempDir('toa-redis-');
  port = 0;
  private child: ChildProcess | null = null;
  private log = '';

  /** A URL for this server, database `db`. */
  url(db = 0): string {
    return `redis://127.0.0.1:${this.port}/${db}`;
  }

  /** A key prefix no other test uses. */
  static prefix(label = 't'): string {
    return `toa-test:${label}:${randomBytes(4).toString('hex')}:`;
  }

  async start(): Promise<this> {
    if (this.port === 0) this.port = await freePort();
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.dir.path,
        '--dbfilename',
        'dump.rdb',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => (this.log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.log += d.toString()));
    const deadline = Date.now() + 10_000;
    while (!(await this.ping())) {
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`redis-server did not start on port ${this.port}:\n${this.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return this;
  }

  ping(): Promise<boolean> {
    return this.cli(['PING']).then(
      (out) => out.trim() === 'PONG',
      () => false,
    );
  }

  /** Run redis-cli against this server; resolves with stdout. */
  cli(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(this.port), ...args], { timeout: 5000 }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      );
    });
  }

  /** Write the data to disk (so a restart keeps it), then kill the server like a crash. */
  async stop(save = true): Promise<void> {
    if (save) await this.cli(['SAVE']);
    await this.kill();
  }

  async kill(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async destroy(): Promise<void> {
    await this.kill();
    this.dir.cleanup();
  }
}

export async function startRedis(): Promise<RedisServer> {
  return new RedisServer().start();
}

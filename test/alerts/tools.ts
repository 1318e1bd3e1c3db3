/**
 * Runs the real Prometheus tools (promtool, amtool) with execFile and an
 * argument array, never through a shell. A failing run throws with the
 * tool's whole output in the message, so the test report says what is wrong.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (test/alerts/ is two levels down). */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const RULES_FILE = join(REPO_ROOT, 'alerts', 'orchestrator-agent.rules.yml');
export const RULE_TESTS_DIR = join(REPO_ROOT, 'alerts', 'tests');
export const RUNBOOKS_FILE = join(REPO_ROOT, 'docs', 'runbooks.md');
export const RUNBOOK_BASE_URL =
  'https://github.com/tmux-orchestrator-agent/tmux-orchestrator-agent/blob/main/docs/runbooks.md';

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

const INSTALL_HINT: Record<string, string> = {
  promtool: 'apt-get install prometheus',
  amtool: 'apt-get install prometheus-alertmanager',
};

/** Run `tool args...` and resolve with its exit code and output (a non-zero exit does not reject). */
export function runTool(
  tool: string,
  args: string[],
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    execFile(
      tool,
      args,
      {
        cwd: options.cwd ?? REPO_ROOT,
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, LC_ALL: 'C' },
      },
      (error, stdout, stderr) => {
        if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new Error(`${tool} is not installed (${INSTALL_HINT[tool] ?? 'install it'}): ${error.message}`));
          return;
        }
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** Run the tool and throw, with its output, unless it exits 0. */
export async function expectToolSuccess(
  tool: string,
  args: string[],
  options: { cwd?: string } = {},
): Promise<ToolResult> {
  const result = await runTool(tool, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${tool} ${args.join(' ')} exited ${result.code}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`,
    );
  }
  return result;
}

/** The promtool unit-test files, absolute paths, sorted. */
export function ruleTestFiles(): string[] {
  return readdirSync(RULE_TESTS_DIR)
    .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
    .sort()
    .map((f) => join(RULE_TESTS_DIR, f));
}

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export const ROOT = join(__dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'cli.js');

export interface ProxyProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  url: string;
  stdout: string[];
  stderr: string[];
  exited: Promise<number | null>;
}

export function writeConfig(config: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'authgate-'));
  const file = join(dir, 'authgate.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts `authgate serve` as a real process and waits for its "listening" line. */
export async function spawnProxy(
  config: Record<string, unknown>,
  env: NodeJS.ProcessEnv = {},
  extraArgs: string[] = [],
): Promise<ProxyProcess> {
  // Never the default 9090 (Prometheus' own port): the scrape shares the main listener.
  // Drain tests set drainDelayMs themselves; the rest stop at once.
  const server = { drainDelayMs: 0, ...(config.server as Record<string, unknown> | undefined) };
  const file = writeConfig({ metrics: { port: 0 }, ...config, server });
  const child = spawn(process.execPath, [CLI, 'serve', '--config', file, ...extraArgs], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...env },
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.stderr!.on('data', (c: Buffer) => stderr.push(c.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (c: Buffer) => {
      buffered += c.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        stdout.push(line);
        try {
          const entry = JSON.parse(line) as { message?: string; port?: number };
          if (entry.message === 'listening' && entry.port) resolve(entry.port);
        } catch {
          /* not JSON */
        }
      }
    });
    void exited.then((code) => reject(new Error(`authgate exited (${code}): ${stderr.join('')}`)));
  });
  return { child, pid: child.pid!, port, url: `http://127.0.0.1:${port}`, stdout, stderr, exited };
}

/** Resident set size and peak (kB) of a process, from /proc. */
export function memoryKb(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/** Resets the peak-RSS counter of `pid` (Linux clear_refs 5); false where not permitted. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

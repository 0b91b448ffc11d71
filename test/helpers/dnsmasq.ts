/**
 * dnsmasq (Debian's) as a real DNS server on loopback: it answers the names of a hosts file —
 * several lines with one name give several addresses — and reads the file again on SIGHUP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { promises as dns } from 'node:dns';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait';

export const DNSMASQ = '/usr/sbin/dnsmasq';

export interface Dnsmasq {
  /** `127.0.0.1:port`, for `server.dns.servers`. */
  server: string;
  /** Replaces the answers (name → addresses) and has dnsmasq read them again. */
  answer(records: Record<string, string[]>): Promise<void>;
  stop(): Promise<void>;
}

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const { port } = socket.address();
  await new Promise<void>((r) => socket.close(() => r()));
  return port;
}

function hostsFile(records: Record<string, string[]>): string {
  return Object.entries(records)
    .flatMap(([name, addresses]) => addresses.map((a) => `${a} ${name}\n`))
    .join('');
}

export async function startDnsmasq(records: Record<string, string[]>): Promise<Dnsmasq> {
  const dir = mkdtempSync(join(tmpdir(), 'authgate-dns-'));
  const hosts = join(dir, 'hosts');
  writeFileSync(hosts, hostsFile(records), { mode: 0o644 });
  const port = await freeUdpPort();
  const child: ChildProcess = spawn(
    DNSMASQ,
    [
      '--keep-in-foreground',
      '--no-resolv',
      '--no-hosts',
      '--bind-interfaces',
      '--listen-address=127.0.0.1',
      `--port=${port}`,
      `--addn-hosts=${hosts}`,
      '--local-ttl=1',
      '--user=root',
      `--pid-file=${join(dir, 'pid')}`,
      '--log-facility=-',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const resolver = new dns.Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  const first = Object.keys(records)[0] as string;
  const expected = (records[first] ?? []).slice().sort().join();
  const answers = async (want: string): Promise<boolean> => {
    if (child.exitCode !== null) throw new Error(`dnsmasq exited: ${stderr}`);
    const got = await resolver.resolve4(first).catch(() => [] as string[]);
    return got.slice().sort().join() === want;
  };
  await waitFor('dnsmasq answering', () => answers(expected));
  return {
    server: `127.0.0.1:${port}`,
    async answer(next) {
      writeFileSync(hosts, hostsFile(next));
      child.kill('SIGHUP');
      const name = Object.keys(next)[0] as string;
      const want = (next[name] ?? []).slice().sort().join();
      await waitFor(
        'dnsmasq answering the new records',
        async () =>
          (await resolver.resolve4(name).catch(() => [] as string[])).slice().sort().join() ===
          want,
      );
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

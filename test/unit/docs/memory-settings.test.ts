/**
 * The memory settings are given where the process starts (docs/design.md#memory): the CLI's
 * shebang, `npm start` and the image's entrypoint carry the same V8 flags and the same malloc
 * settings, and the Kubernetes and ECS files set the malloc settings too. A flag V8 does not
 * know would stop the process from starting, so each one is also tried on this Node.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');
const v8Flags = (words: readonly string[]): string[] => words.filter((w) => /^--[\w-]+=/.test(w));

const shebang = read('src/cli.ts').split('\n')[0]!;
const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts
  .start!;
const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(read('Dockerfile'))![1]!) as string[];

/** glibc's malloc: two arenas, and a fixed mmap threshold (docs/design.md#memory). */
const MALLOC: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
};
const MALLOC_ENV = Object.entries(MALLOC)
  .map(([name, value]) => `${name}=${value}`)
  .join(' ');

describe('memory settings where the process starts', () => {
  const fromShebang = v8Flags(shebang.split(' '));

  it('the shebang sets the young generation, the old-space limit and malloc', () => {
    expect(shebang.startsWith('#!/usr/bin/env -S ')).toBe(true);
    expect(shebang).toContain(`${MALLOC_ENV} node `);
    expect(fromShebang).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^--max-semi-space-size=\d+$/),
        expect.stringMatching(/^--max-old-space-size=\d+$/),
      ]),
    );
  });

  it.each([
    ['npm start', v8Flags(start.split(' '))],
    ['the Dockerfile entrypoint', v8Flags(entrypoint)],
  ])('%s has the same V8 flags as the shebang', (_where, flags) => {
    expect(flags).toEqual(fromShebang);
  });

  it('npm start and the image set the same malloc settings', () => {
    expect(start.startsWith(`${MALLOC_ENV} node `)).toBe(true);
    expect(read('Dockerfile')).toContain(`\nENV ${MALLOC_ENV}\n`);
  });

  it.each(Object.entries(MALLOC))('the Kubernetes and ECS files set %s=%s', (name, value) => {
    expect(read('deploy/kubernetes/deployment.yaml')).toContain(
      `- name: ${name}\n              value: '${value}'\n`,
    );
    const ecs = JSON.parse(read('deploy/ecs/task-definition.json')) as {
      containerDefinitions: Array<{ environment: Array<{ name: string; value: string }> }>;
    };
    expect(ecs.containerDefinitions[0]!.environment).toContainEqual({ name, value });
  });

  it('the shebang fits in the 127 bytes a Linux kernel before 5.1 reads of it', () => {
    // A longer line is cut there silently, dropping the last flags.
    expect(Buffer.byteLength(shebang)).toBeLessThanOrEqual(127);
  });

  it('this Node accepts every flag', () => {
    const run = spawnSync(process.execPath, [...fromShebang, '-e', '0'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});

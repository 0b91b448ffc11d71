/**
 * The memory settings are given where the process starts (docs/design.md#memory): the CLI's
 * shebang, `npm start` and the image's entrypoint carry the same V8 flags and the same malloc
 * arena limit, and the Kubernetes and ECS files set the arena limit too. A flag V8 does not
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

describe('memory settings where the process starts', () => {
  const fromShebang = v8Flags(shebang.split(' '));

  it('the shebang sets the young generation, the old-space limit and the malloc arenas', () => {
    expect(shebang.startsWith('#!/usr/bin/env -S ')).toBe(true);
    expect(shebang).toContain('MALLOC_ARENA_MAX=2 node ');
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

  it('npm start and the image set MALLOC_ARENA_MAX=2', () => {
    expect(start.startsWith('MALLOC_ARENA_MAX=2 node ')).toBe(true);
    expect(read('Dockerfile')).toMatch(/^ENV MALLOC_ARENA_MAX=2$/m);
  });

  it('the Kubernetes and ECS files set MALLOC_ARENA_MAX=2', () => {
    expect(read('deploy/kubernetes/deployment.yaml')).toMatch(
      /- name: MALLOC_ARENA_MAX\n\s+value: '2'/,
    );
    const ecs = JSON.parse(read('deploy/ecs/task-definition.json')) as {
      containerDefinitions: Array<{ environment: Array<{ name: string; value: string }> }>;
    };
    expect(ecs.containerDefinitions[0]!.environment).toContainEqual({
      name: 'MALLOC_ARENA_MAX',
      value: '2',
    });
  });

  it('this Node accepts every flag', () => {
    const run = spawnSync(process.execPath, [...fromShebang, '-e', '0'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});

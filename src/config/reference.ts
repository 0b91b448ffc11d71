/**
 * The configuration reference (docs/configuration.md), generated from the schema so the two
 * cannot drift; test/unit/config/reference.test.ts fails when the file is stale.
 * Regenerate with `npm run docs:config`.
 */
import { z } from 'zod';
import { configSchema } from './schema';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  const?: unknown;
  additionalProperties?: JsonSchema | boolean;
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (s.anyOf) return s.anyOf.map(typeOf).join(' or ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'any'}`;
  if (s.type === 'object' && !s.properties) return 'map';
  const t = Array.isArray(s.type) ? s.type.join('/') : (s.type ?? 'any');
  if ((t === 'integer' || t === 'number') && s.minimum !== undefined && s.maximum !== undefined) {
    return `${t} ${s.minimum}–${s.maximum}`;
  }
  return t;
}

function rows(schema: JsonSchema, path: string, out: string[]): void {
  if (schema.type === 'object' && schema.properties) {
    for (const [key, child] of Object.entries(schema.properties))
      rows(child, path ? `${path}.${key}` : key, out);
    return;
  }
  const variants = schema.items?.oneOf ?? schema.items?.anyOf;
  if (schema.type === 'array' && variants?.every((v) => v.properties?.type?.const !== undefined)) {
    // A tagged union (the upstream-credential providers): the keys of each kind.
    out.push(
      `| \`${path}\` | list | ${fmtDefault(schema.default)} | ${schema.description ?? ''} |`,
    );
    for (const v of variants) {
      const tag = String(v.properties?.type?.const);
      const keys = Object.fromEntries(
        Object.entries(v.properties ?? {}).filter(([key]) => key !== 'type'),
      );
      out.push(`| \`${path}[].type\` | "${tag}" |  | |`);
      rows({ ...v, properties: keys }, `${path}[] (${tag})`, out);
    }
    return;
  }
  if (schema.type === 'array' && schema.items?.properties) {
    out.push(
      `| \`${path}\` | list | ${fmtDefault(schema.default)} | ${schema.description ?? ''} |`,
    );
    rows(schema.items, `${path}[]`, out);
    return;
  }
  out.push(
    `| \`${path}\` | ${typeOf(schema)} | ${fmtDefault(schema.default)} | ${schema.description ?? ''} |`,
  );
}

function fmtDefault(value: unknown): string {
  if (value === undefined) return '';
  return `\`${JSON.stringify(value)}\``;
}

export function configReference(): string {
  const json = z.toJSONSchema(configSchema, { io: 'output', unrepresentable: 'any' }) as JsonSchema;
  const out: string[] = [];
  rows(json, '', out);
  return [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs:config`; do not edit by hand. -->',
    '',
    'YAML, loaded from `--config`, else `$AUTHGATE_CONFIG`, else `config/authgate.yaml`.',
    '`${VAR}` and `${VAR:-default}` are replaced from the environment in every string;',
    '`LOG_LEVEL`, `PORT`, `METRICS_PORT` and `REDIS_URL` override their keys. Unknown keys are errors.',
    '',
    '| key | type | default | description |',
    '|---|---|---|---|',
    ...out,
    '',
  ].join('\n');
}

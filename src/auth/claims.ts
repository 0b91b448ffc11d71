/**
 * Reading a principal's claims by name (docs/design.md#configuration): a claim setting names a
 * top-level claim (`groups`, `https://example.com/roles`) or, when the token has no claim of that
 * exact name, a dotted path into nested objects (`realm_access.roles`,
 * `resource_access.mlflow.roles`, as Keycloak nests them). Only the token's own properties are
 * read, so a path can never reach an object's prototype (`__proto__`, `constructor`).
 */

/** The claim `name` of `payload`: the exact top-level claim first, else the dotted path. */
export function claimAt(payload: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  if (!name.includes('.')) return undefined;
  let node: unknown = payload;
  for (const step of name.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    if (!Object.hasOwn(node, step)) return undefined;
    node = (node as Record<string, unknown>)[step];
  }
  return node;
}

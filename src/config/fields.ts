/**
 * The building blocks of the config schema: numbers and booleans that may arrive as strings
 * (after `${VAR}` interpolation), CIDR lists, URL paths, http(s) URLs, HTTP methods.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

/** YAML after `${VAR}` interpolation yields strings; accept "8080" where a number is meant. */
export const fromString = (value: unknown): unknown => {
  if (typeof value !== 'string') return value;
  const t = value.trim();
  if (/^-?\d+$/.test(t)) return Number(t);
  if (t === 'true') return true;
  if (t === 'false') return false;
  return value;
};
export const int = (min: number, max: number) =>
  z.preprocess(fromString, z.number().int().min(min).max(max));
export const bool = () => z.preprocess(fromString, z.boolean());

export function isCidr(value: string): boolean {
  const [addr, bits, extra] = value.split('/');
  if (extra !== undefined || addr === undefined) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

export const cidrList = z
  .array(z.string().refine(isCidr, { message: 'must be an IP address or CIDR block' }))
  .default([]);

export const urlPath = z
  .string()
  .regex(/^\/[A-Za-z0-9._~\-/]*$/, { message: 'must be a path starting with "/"' });

export const httpUrl = z.string().refine(
  (v) => {
    try {
      const u = new URL(v);
      return (
        (u.protocol === 'http:' || u.protocol === 'https:') && u.search === '' && u.hash === ''
      );
    } catch {
      return false;
    }
  },
  { message: 'must be an http(s) URL without query or fragment' },
);

export const noCredentialsInUrl = (v: string): boolean => {
  try {
    const u = new URL(v);
    return u.username === '' && u.password === '';
  } catch {
    return true;
  }
};

export const HTTP_METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'TRACE',
  'CONNECT',
] as const;

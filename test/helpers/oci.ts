/**
 * A small OCI image layout on disk (index.json, oci-layout, blobs/sha256/...) that real image
 * tools read: one gzipped tar layer with a file of random bytes, an image config and a manifest.
 * `skopeo copy oci:DIR:TAG docker://...` pushes it; `digestsOf` compares two layouts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** One ustar entry (regular file) for a tar archive. */
function tarEntry(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512, 0);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100, 8, 'ascii');
  header.write('0000000\0', 108, 8, 'ascii');
  header.write('0000000\0', 116, 8, 'ascii');
  header.write(content.length.toString(8).padStart(11, '0') + '\0', 124, 12, 'ascii');
  header.write('00000000000\0', 136, 12, 'ascii');
  header.write('        ', 148, 8, 'ascii');
  header.write('0', 156, 1, 'ascii');
  header.write('ustar\0', 257, 6, 'ascii');
  header.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512, 0);
  return Buffer.concat([header, content, padding]);
}

export interface OciImage {
  dir: string;
  tag: string;
  manifestDigest: string;
  layerDigest: string;
}

function writeBlob(dir: string, data: Buffer | string): { digest: string; size: number } {
  const hex = sha256(data);
  writeFileSync(join(dir, 'blobs', 'sha256', hex), data);
  return { digest: `sha256:${hex}`, size: Buffer.byteLength(data) };
}

/** Writes an OCI layout with one image tagged `tag`; `layerBytes` of random file content. */
export function writeOciImage(dir: string, tag: string, layerBytes = 256 * 1024): OciImage {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const tar = Buffer.concat([
    tarEntry('model.bin', randomBytes(layerBytes)),
    tarEntry('README', Buffer.from(`model bundle ${tag}\n`)),
    Buffer.alloc(1024, 0),
  ]);
  const layer = writeBlob(dir, gzipSync(tar));
  const config = writeBlob(
    dir,
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(tar)}`] },
    }),
  );
  const manifest = writeBlob(
    dir,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
    }),
  );
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return { dir, tag, manifestDigest: manifest.digest, layerDigest: layer.digest };
}

/** The layer digests of the image tagged `tag` in an OCI layout (manifest read from its blob). */
export function layerDigestsOf(dir: string, tag: string): string[] {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as {
    manifests: Array<{ digest: string; annotations?: Record<string, string> }>;
  };
  const entry = index.manifests.find(
    (m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag,
  );
  if (!entry) throw new Error(`no image tagged ${tag} in ${dir}`);
  const manifest = JSON.parse(
    readFileSync(join(dir, 'blobs', 'sha256', entry.digest.slice('sha256:'.length)), 'utf8'),
  ) as { layers: Array<{ digest: string }> };
  return manifest.layers.map((l) => l.digest);
}

/** The bytes of a blob in an OCI layout. */
export function blobOf(dir: string, digest: string): Buffer {
  return readFileSync(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)));
}

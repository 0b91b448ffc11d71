/** Stops the MLflow servers the end-to-end tier's global setup started. */
export default async function globalTeardown(): Promise<void> {
  await (globalThis as { stopSharedMlflow?: () => Promise<void> }).stopSharedMlflow?.();
}

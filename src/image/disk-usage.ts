/** What one kind of stored thing takes on disk, and how much of it nothing references. */
export interface UsageLine {
  count: number;
  bytes: number;
  reclaimableCount: number;
  reclaimableBytes: number;
}

/** Sum sizes, and those of entries `used` does not hold. */
export function usageOf(
  entries: readonly { digest: string; bytes: number }[],
  used: ReadonlySet<string>,
): UsageLine {
  const line: UsageLine = { count: 0, bytes: 0, reclaimableCount: 0, reclaimableBytes: 0 };
  for (const e of entries) {
    line.count++;
    line.bytes += e.bytes;
    if (!used.has(e.digest)) {
      line.reclaimableCount++;
      line.reclaimableBytes += e.bytes;
    }
  }
  return line;
}

/**
 * The lines of a streamed answer (NDJSON, or text) as they arrive. Decoded in stream mode, so
 * a character whose bytes straddle two chunks is not mangled; empty lines are skipped.
 */
export async function* ndjsonLines(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let partial = '';
  for await (const chunk of body) {
    const lines = (partial + decoder.decode(chunk, { stream: true })).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line) yield line;
  }
  partial += decoder.decode();
  if (partial) yield partial;
}

package dev.kiln.shim;

import java.io.IOException;
import java.io.InputStream;

/** What a handler produced: a value to serialize, or bytes to pass on as they are. */
final class Output {
  final Object value;
  final byte[] bytes;

  private Output(Object value, byte[] bytes) {
    this.value = value;
    this.bytes = bytes;
  }

  static Output bytes(byte[] bytes) {
    return new Output(null, bytes);
  }

  /** A returned {@code byte[]} or {@code InputStream} is the answer's bytes; anything else a value. */
  static Output of(Object result) throws IOException {
    if (result instanceof byte[]) return bytes((byte[]) result);
    if (result instanceof InputStream) {
      try (InputStream in = (InputStream) result) {
        return bytes(in.readAllBytes());
      }
    }
    return new Output(result, null);
  }
}

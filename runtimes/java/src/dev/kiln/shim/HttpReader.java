package dev.kiln.shim;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * Reads HTTP/1.1 requests from one connection (RFC 9112), with its own buffer so that bytes of a
 * pipelined next request stay for the next read. The head is capped (431 past
 * {@link #MAX_HEAD}), the body at the shim's body limit (413), and anything malformed is a 400:
 * each a {@link ShimError}, after which the connection is closed.
 */
final class HttpReader {
  /** Request line + headers, and the trailers of a chunked body, each at most this (SHIM-PROTOCOL §6). */
  static final int MAX_HEAD = 64 * 1024;

  private final InputStream in;
  private final byte[] buf = new byte[16 * 1024];
  private int pos;
  private int lim;
  private final long maxBody;

  HttpReader(InputStream in, long maxBody) {
    this.in = in;
    this.maxBody = maxBody;
  }

  /** The next request's line and headers, or null when the peer closed the connection between requests. */
  HttpRequest readHead() throws IOException, ShimError {
    int[] budget = {MAX_HEAD};
    String line;
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
    do {
      line = readLine(budget, true);
      if (line == null) return null;
    } while (line.isEmpty());
    int sp1 = line.indexOf(' ');
    int sp2 = line.indexOf(' ', sp1 + 1);
    if (sp1 <= 0 || sp2 <= sp1 + 1 || line.indexOf(' ', sp2 + 1) >= 0) throw bad("malformed request line");
    String method = line.substring(0, sp1);
    String target = line.substring(sp1 + 1, sp2);
    String version = line.substring(sp2 + 1);
    if (!isToken(method)) throw bad("malformed method");
    if (!version.equals("HTTP/1.1") && !version.equals("HTTP/1.0")) {
      if (version.startsWith("HTTP/")) throw new ShimError(505, "http_version_not_supported", "only HTTP/1.0 and 1.1");
      throw bad("malformed request line");
    }
    if (target.charAt(0) != '/' && !target.equals("*") && !target.startsWith("http://") && !target.startsWith("https://")) {
      throw bad("malformed request target");
    }
    HttpRequest req = new HttpRequest(method, target, version);
    readFields(req, budget);
    return req;
  }

  private void readFields(HttpRequest req, int[] budget) throws IOException, ShimError {
    while (true) {
      String h = readLine(budget, false);
      if (h == null) throw bad("connection closed inside the request head");
      if (h.isEmpty()) return;
      int colon = h.indexOf(':');
      // RFC 9112 §5.1: no whitespace between the name and the colon; obs-fold is refused (§5.2).
      if (colon <= 0 || !isToken(h.substring(0, colon))) throw bad("malformed header line");
      if (req != null) req.addHeader(h.substring(0, colon).toLowerCase(), h.substring(colon + 1).trim());
    }
  }

  /** Whether the request announces a body, and how long it is (-1: chunked). Validated here. */
  long bodyLength(HttpRequest req) throws ShimError {
    String te = req.header("transfer-encoding");
    String cl = req.header("content-length");
    if (te != null) {
      // RFC 9112 §6.3: both is a smuggling attempt or a broken client; refuse.
      if (cl != null) throw bad("both transfer-encoding and content-length");
      if (!te.trim().equalsIgnoreCase("chunked")) {
        throw new ShimError(501, "not_implemented", "transfer-encoding " + te + " is not supported (only chunked)");
      }
      return -1;
    }
    if (cl == null) return 0;
    String first = null;
    for (String part : cl.split(",")) {
      String v = part.trim();
      if (first != null && !first.equals(v)) throw bad("conflicting content-length values");
      first = v;
    }
    if (first.isEmpty() || first.length() > 18) throw bad("malformed content-length");
    for (int i = 0; i < first.length(); i++) if (first.charAt(i) < '0' || first.charAt(i) > '9') throw bad("malformed content-length");
    long n = Long.parseLong(first);
    if (n > maxBody) throw tooLarge();
    return n;
  }

  ShimError tooLarge() {
    return new ShimError(413, "request_too_large", "the request body is larger than " + maxBody + " bytes");
  }

  /** Reads the body announced by {@link #bodyLength}. */
  byte[] readBody(long length) throws IOException, ShimError {
    if (length == 0) return new byte[0];
    if (length > 0) return readExactly((int) length);
    return readChunked();
  }

  private byte[] readExactly(int n) throws IOException, ShimError {
    byte[] out = new byte[n];
    int have = Math.min(lim - pos, n);
    System.arraycopy(buf, pos, out, 0, have);
    pos += have;
    while (have < n) {
      int r = in.read(out, have, n - have);
      if (r < 0) throw bad("connection closed inside the request body");
      have += r;
    }
    return out;
  }

  private byte[] readChunked() throws IOException, ShimError {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    int[] budget = {MAX_HEAD};
    while (true) {
      String line = readLine(budget, false);
      if (line == null) throw bad("connection closed inside a chunked body");
      int semi = line.indexOf(';');
      String hex = (semi >= 0 ? line.substring(0, semi) : line).trim();
      if (hex.isEmpty() || hex.length() > 15) throw bad("malformed chunk size");
      long size;
      try {
        size = Long.parseLong(hex, 16);
      } catch (NumberFormatException e) {
        throw bad("malformed chunk size");
      }
      if (size < 0) throw bad("malformed chunk size");
      if (size == 0) {
        readFields(null, budget); // trailers: read and dropped
        return body.toByteArray();
      }
      if (body.size() + size > maxBody) throw tooLarge();
      body.write(readExactly((int) size));
      String end = readLine(budget, false);
      if (end == null || !end.isEmpty()) throw bad("chunk data not followed by CRLF");
    }
  }

  /**
   * One line without its CRLF (a bare LF is accepted), in ISO-8859-1, counted against the
   * budget; null at end of stream before any byte when {@code eofOk}.
   */
  private String readLine(int[] budget, boolean eofOk) throws IOException, ShimError {
    int start = pos;
    StringBuilder spill = null;
    while (true) {
      for (int i = start; i < lim; i++) {
        if (buf[i] == '\n') {
          int end = i > start && buf[i - 1] == '\r' ? i - 1 : i;
          budget[0] -= i + 1 - start;
          if (budget[0] < 0) throw headTooLarge();
          String part = new String(buf, start, end - start, StandardCharsets.ISO_8859_1);
          pos = i + 1;
          if (spill == null) return part;
          // A CR at the end of the spilled part belongs to this CRLF.
          if (end == i && i == start && spill.length() > 0 && spill.charAt(spill.length() - 1) == '\r') {
            spill.setLength(spill.length() - 1);
          }
          return spill.append(part).toString();
        }
        if (buf[i] == 0) throw bad("NUL byte in the request head");
      }
      // No LF in the buffer: keep what is there and read more.
      budget[0] -= lim - start;
      if (budget[0] < 0) throw headTooLarge();
      if (lim > start) {
        if (spill == null) spill = new StringBuilder();
        spill.append(new String(buf, start, lim - start, StandardCharsets.ISO_8859_1));
      }
      pos = lim = start = 0;
      int r = in.read(buf, 0, buf.length);
      if (r < 0) {
        if (spill == null && eofOk) return null;
        throw bad("connection closed inside the request head");
      }
      lim = r;
    }
  }

  private static ShimError headTooLarge() {
    return new ShimError(431, "request_head_too_large", "the request head is larger than " + MAX_HEAD + " bytes");
  }

  private static ShimError bad(String message) {
    return new ShimError(400, "bad_request", message);
  }

  /** RFC 9110 §5.6.2 token characters. */
  private static boolean isToken(String s) {
    if (s.isEmpty()) return false;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c > 126 || c <= 32 || "\"(),/:;<=>?@[\\]{}".indexOf(c) >= 0) return false;
    }
    return true;
  }
}

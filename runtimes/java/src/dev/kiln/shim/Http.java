package dev.kiln.shim;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Just enough HTTP/1.1 for the gateway ↔ shim protocol (docs/DESIGN.md §5): keep-alive, bodies by length or chunks. */
final class Http {
  private static final int MAX_LINE = 64 * 1024;

  private Http() {}

  /** The next request on a connection, or null when the peer closed it cleanly. */
  static HttpRequest read(InputStream in) throws IOException {
    String line = readLine(in);
    if (line == null) return null;
    while (line.isEmpty()) {
      line = readLine(in);
      if (line == null) return null;
    }
    String[] parts = line.split(" ");
    if (parts.length < 3) throw new IOException("bad request line: " + line);
    HttpRequest req = new HttpRequest(parts[0], parts[1]);
    for (String h = readLine(in); h != null && !h.isEmpty(); h = readLine(in)) {
      int colon = h.indexOf(':');
      if (colon <= 0) throw new IOException("bad header line: " + h);
      String name = h.substring(0, colon).trim().toLowerCase();
      req.headers.computeIfAbsent(name, k -> new ArrayList<>()).add(h.substring(colon + 1).trim());
    }
    String chunked = req.header("transfer-encoding");
    String length = req.header("content-length");
    if (chunked != null && chunked.toLowerCase().contains("chunked")) {
      req.body = readChunked(in);
    } else if (length != null) {
      req.body = in.readNBytes(Integer.parseInt(length.trim()));
    }
    return req;
  }

  private static byte[] readChunked(InputStream in) throws IOException {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    while (true) {
      String size = readLine(in);
      if (size == null) throw new IOException("connection closed inside a chunked body");
      int semi = size.indexOf(';');
      int n = Integer.parseInt((semi >= 0 ? size.substring(0, semi) : size).trim(), 16);
      if (n == 0) {
        for (String t = readLine(in); t != null && !t.isEmpty(); t = readLine(in)) {
          // trailers are not used
        }
        return body.toByteArray();
      }
      body.write(in.readNBytes(n));
      readLine(in);
    }
  }

  private static String readLine(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    int b;
    while ((b = in.read()) != -1) {
      if (b == '\n') {
        byte[] bytes = line.toByteArray();
        int len = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
        return new String(bytes, 0, len, StandardCharsets.ISO_8859_1);
      }
      line.write(b);
      if (line.size() > MAX_LINE) throw new IOException("header line too long");
    }
    return line.size() == 0 ? null : line.toString(StandardCharsets.ISO_8859_1);
  }

  static void write(OutputStream out, int status, Map<String, List<String>> headers, byte[] body) throws IOException {
    StringBuilder head = new StringBuilder("HTTP/1.1 ").append(status).append(' ').append(reason(status)).append("\r\n");
    for (Map.Entry<String, List<String>> h : headers.entrySet()) {
      String name = h.getKey().toLowerCase();
      if (name.equals("content-length") || name.equals("transfer-encoding") || name.equals("connection")) continue;
      for (String v : h.getValue()) head.append(h.getKey()).append(": ").append(v).append("\r\n");
    }
    head.append("content-length: ").append(body.length).append("\r\n\r\n");
    out.write(head.toString().getBytes(StandardCharsets.UTF_8));
    out.write(body);
    out.flush();
  }

  private static String reason(int status) {
    switch (status) {
      case 200: return "OK";
      case 201: return "Created";
      case 204: return "No Content";
      case 400: return "Bad Request";
      case 404: return "Not Found";
      case 500: return "Internal Server Error";
      case 503: return "Service Unavailable";
      default: return "Status";
    }
  }
}

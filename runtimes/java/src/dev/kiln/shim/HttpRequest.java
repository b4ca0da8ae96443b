package dev.kiln.shim;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One HTTP/1.1 request as the shim read it; header names lower-cased, order and repeats kept. */
final class HttpRequest {
  final String method;
  final String target;
  final String version;
  final Map<String, List<String>> headers = new LinkedHashMap<>();
  /** The peer's address for a TCP connection; null on a unix socket. */
  String remoteAddress;
  byte[] body = new byte[0];

  HttpRequest(String method, String target, String version) {
    this.method = method;
    this.target = target;
    this.version = version;
  }

  void addHeader(String name, String value) {
    List<String> values = headers.get(name);
    if (values == null) headers.put(name, values = new ArrayList<>(1));
    values.add(value);
  }

  /** The header's values joined with "," (API Gateway's rule for repeated headers), or null. */
  String header(String name) {
    List<String> values = headers.get(name);
    if (values == null || values.isEmpty()) return null;
    return values.size() == 1 ? values.get(0) : String.join(",", values);
  }

  /** HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes unless told to keep it. */
  boolean keepAlive() {
    String connection = header("connection");
    String c = connection == null ? "" : connection.toLowerCase();
    if (version.equals("HTTP/1.0")) return c.contains("keep-alive");
    return !c.contains("close");
  }
}

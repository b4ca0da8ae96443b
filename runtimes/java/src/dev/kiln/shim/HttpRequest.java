package dev.kiln.shim;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One HTTP/1.1 request as the shim read it; header names lower-cased, order kept. */
final class HttpRequest {
  final String method;
  final String target;
  final Map<String, List<String>> headers = new LinkedHashMap<>();
  byte[] body = new byte[0];

  HttpRequest(String method, String target) {
    this.method = method;
    this.target = target;
  }

  String header(String name) {
    List<String> values = headers.get(name);
    return values == null || values.isEmpty() ? null : String.join(",", values);
  }
}

package dev.kiln.shim;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** An HTTP response the shim writes. Header names are lower-case. */
final class Response {
  final int status;
  final Map<String, List<String>> headers = new LinkedHashMap<>();
  final byte[] body;

  Response(int status, String contentType, byte[] body) {
    this.status = status;
    if (contentType != null) header("content-type", contentType);
    this.body = body;
  }

  Response header(String name, String value) {
    List<String> values = headers.get(name);
    if (values == null) headers.put(name, values = new ArrayList<>(1));
    values.add(value);
    return this;
  }

  static Response json(int status, Object value) {
    return new Response(status, "application/json", Json.bytes(value));
  }

  static final byte[] OK = "{\"ok\":true}".getBytes(StandardCharsets.UTF_8);

  static Response ok() {
    return new Response(200, "application/json", OK);
  }

  /** Kiln's own error answer: {"error":{"code","message"}} and the code in x-kiln-error. */
  static Response error(int status, String code, String message) {
    Map<String, Object> error = new LinkedHashMap<>();
    error.put("code", code);
    error.put("message", message);
    return json(status, Map.of("error", error)).header("x-kiln-error", code);
  }
}

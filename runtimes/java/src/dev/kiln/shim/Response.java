package dev.kiln.shim;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** An HTTP response, and the rules that turn a handler's result into one. */
final class Response {
  final int status;
  final Map<String, List<String>> headers = new LinkedHashMap<>();
  final byte[] body;

  Response(int status, String contentType, byte[] body) {
    this.status = status;
    if (contentType != null) headers.put("content-type", new ArrayList<>(List.of(contentType)));
    this.body = body;
  }

  static Response json(int status, Object value) {
    return new Response(status, "application/json", Json.stringify(value).getBytes(StandardCharsets.UTF_8));
  }

  static Response error(int status, String code, String message) {
    Response r = json(status, Map.of("error", Map.of("code", code, "message", message)));
    r.headers.put("x-kiln-error", List.of(code));
    return r;
  }

  /**
   * A Map with "statusCode" is a response ({statusCode, headers, cookies, body,
   * isBase64Encoded}); a String is a 200 text/plain; anything else is a 200 JSON body.
   */
  static Response fromResult(Object result) {
    if (result instanceof Map && ((Map<?, ?>) result).containsKey("statusCode")) {
      Map<?, ?> m = (Map<?, ?>) result;
      Object bodyValue = m.get("body");
      String body = bodyValue == null ? "" : bodyValue instanceof String ? (String) bodyValue : Json.stringify(bodyValue);
      boolean base64 = Boolean.TRUE.equals(m.get("isBase64Encoded"));
      byte[] bytes = base64 ? Base64.getDecoder().decode(body) : body.getBytes(StandardCharsets.UTF_8);
      Response r = new Response(((Number) m.get("statusCode")).intValue(), null, bytes);
      if (m.get("headers") instanceof Map) {
        for (Map.Entry<?, ?> h : ((Map<?, ?>) m.get("headers")).entrySet()) {
          r.headers.put(String.valueOf(h.getKey()).toLowerCase(), new ArrayList<>(List.of(String.valueOf(h.getValue()))));
        }
      }
      if (m.get("cookies") instanceof List) {
        List<String> cookies = new ArrayList<>();
        for (Object c : (List<?>) m.get("cookies")) cookies.add(String.valueOf(c));
        if (!cookies.isEmpty()) r.headers.put("set-cookie", cookies);
      }
      r.headers.putIfAbsent("content-type", new ArrayList<>(List.of("application/json")));
      return r;
    }
    if (result instanceof CharSequence) {
      return new Response(200, "text/plain; charset=utf-8", result.toString().getBytes(StandardCharsets.UTF_8));
    }
    return json(200, result);
  }
}

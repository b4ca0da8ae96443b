package dev.kiln.shim;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * API Gateway's rules for turning a function's output (as a JSON tree) into the HTTP response,
 * per payload format ("Create AWS Lambda proxy integrations for HTTP APIs", Lambda function
 * response format). 2.0: an object with {@code statusCode} is a response ({@code statusCode,
 * headers, cookies, body, isBase64Encoded}); any other valid JSON is a 200
 * {@code application/json} whose body is that JSON (a string as its text). 1.0: the output must
 * be an object with {@code statusCode} ({@code headers} and {@code multiValueHeaders} merged).
 * An output API Gateway would refuse throws {@link Invalid}; the shim then answers as API
 * Gateway does, 500 {@code {"message":"Internal Server Error"}}. Kiln is lenient in one way: a
 * non-string {@code body} is sent as its JSON.
 */
final class ApiGatewayResult {
  private ApiGatewayResult() {}

  /** An output API Gateway cannot turn into a response; the message says why, for the logs. */
  static final class Invalid extends Exception {
    private static final long serialVersionUID = 1L;

    Invalid(String message) {
      super(message, null, false, false);
    }
  }

  static Response toResponse(String format, Object output) throws Invalid {
    return "1.0".equals(format) ? v1(output) : v2(output);
  }

  static Response v2(Object output) throws Invalid {
    if (output instanceof Map && ((Map<?, ?>) output).containsKey("statusCode")) {
      Map<?, ?> m = (Map<?, ?>) output;
      Response r = new Response(status(m.get("statusCode")), null, body(m));
      if (m.get("headers") instanceof Map) {
        for (Map.Entry<?, ?> h : ((Map<?, ?>) m.get("headers")).entrySet()) addHeader(r, h.getKey(), h.getValue());
      }
      if (m.get("cookies") instanceof List) {
        for (Object c : (List<?>) m.get("cookies")) addHeader(r, "set-cookie", c);
      }
      if (!r.headers.containsKey("content-type")) r.header("content-type", "application/json");
      return r;
    }
    String text = output instanceof String ? (String) output : Json.stringify(output);
    return new Response(200, "application/json", text.getBytes(StandardCharsets.UTF_8));
  }

  static Response v1(Object output) throws Invalid {
    if (!(output instanceof Map)) {
      throw new Invalid("payload format 1.0 needs an object with statusCode, and the function returned " + kind(output));
    }
    Map<?, ?> m = (Map<?, ?>) output;
    if (m.get("statusCode") == null) throw new Invalid("payload format 1.0 needs a statusCode in the function's result");
    Response r = new Response(status(m.get("statusCode")), null, body(m));
    Object multi = m.get("multiValueHeaders");
    if (multi instanceof Map) {
      for (Map.Entry<?, ?> h : ((Map<?, ?>) multi).entrySet()) {
        if (h.getValue() instanceof List) {
          for (Object v : (List<?>) h.getValue()) addHeader(r, h.getKey(), v);
        } else {
          addHeader(r, h.getKey(), h.getValue());
        }
      }
    }
    // "If you specify values for both headers and multiValueHeaders, API Gateway merges them into
    // a single list. If the same key-value pair is specified in both, only the values from
    // multiValueHeaders will appear in the merged list."
    if (m.get("headers") instanceof Map) {
      for (Map.Entry<?, ?> h : ((Map<?, ?>) m.get("headers")).entrySet()) {
        String name = String.valueOf(h.getKey()).toLowerCase();
        List<String> existing = r.headers.get(name);
        if (existing != null && existing.contains(String.valueOf(h.getValue()))) continue;
        addHeader(r, h.getKey(), h.getValue());
      }
    }
    if (!r.headers.containsKey("content-type")) r.header("content-type", "application/json");
    return r;
  }

  private static String kind(Object output) {
    if (output == null) return "null";
    if (output instanceof List) return "an array";
    if (output instanceof String) return "a string";
    return output.getClass().getSimpleName().toLowerCase();
  }

  private static int status(Object value) throws Invalid {
    int status;
    if (value instanceof Number) {
      status = ((Number) value).intValue();
    } else {
      try {
        status = Integer.parseInt(String.valueOf(value).trim());
      } catch (NumberFormatException e) {
        throw new Invalid("statusCode " + Json.stringify(value) + " is not a number");
      }
    }
    if (status < 200 || status > 599) throw new Invalid("statusCode " + status + " is not a final HTTP status (200-599)");
    return status;
  }

  private static byte[] body(Map<?, ?> m) throws Invalid {
    Object value = m.get("body");
    if (value == null) return new byte[0];
    String body = value instanceof String ? (String) value : Json.stringify(value);
    if (Boolean.TRUE.equals(m.get("isBase64Encoded")) || "true".equals(m.get("isBase64Encoded"))) {
      try {
        return Base64.getMimeDecoder().decode(body);
      } catch (IllegalArgumentException e) {
        throw new Invalid("isBase64Encoded is true but the body is not base64: " + e.getMessage());
      }
    }
    return body.getBytes(StandardCharsets.UTF_8);
  }

  /** A header name must be a token and a value must not break the response (no CR, LF or NUL). */
  private static void addHeader(Response r, Object key, Object value) throws Invalid {
    String name = String.valueOf(key).toLowerCase();
    if (name.isEmpty()) throw new Invalid("an empty header name");
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c <= 32 || c > 126 || "\"(),/:;<=>?@[\\]{}".indexOf(c) >= 0) throw new Invalid("header name " + Json.stringify(name) + " is not a token");
    }
    // Kiln's own headers are the shim's and the gateway's to set, never the function's.
    if (value == null || name.startsWith("x-kiln-")) return;
    String v = value instanceof String ? (String) value : Json.stringify(value);
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c == '\r' || c == '\n' || c == 0) throw new Invalid("the value of header " + name + " has a line break or NUL");
    }
    r.header(name, v);
  }
}

package dev.kiln.shim;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The API Gateway event an HTTP request becomes, in the payload format the function chose:
 * "2.0" (HTTP API) or "1.0" (REST-style), built as AWS documents them ("Create AWS Lambda proxy
 * integrations for HTTP APIs", payload format structure). Kiln routes every path of a function
 * to it, which is API Gateway's {@code $default} route on the {@code $default} stage. Headers
 * starting with x-kiln- are Kiln's and never appear. A pure function of the request and the clock.
 */
final class ApiGatewayEvent {
  private static final String[] MONTHS = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  /** The account id Kiln reports wherever AWS reports one (events, ARNs): 12 digits, like AWS's. */
  static final String ACCOUNT_ID = "000000000000";
  static final String API_ID = "kiln";

  private ApiGatewayEvent() {}

  static Map<String, Object> build(HttpRequest req, String format, String requestId, long nowMs) {
    return "1.0".equals(format) ? v1(req, requestId, nowMs) : v2(req, requestId, nowMs);
  }

  /** Payload format 2.0: repeated headers and query keys joined with commas, cookies on their own. */
  static Map<String, Object> v2(HttpRequest req, String requestId, long nowMs) {
    Target t = new Target(req.target);
    Map<String, Object> headers = new LinkedHashMap<>();
    List<Object> cookies = new ArrayList<>();
    for (Map.Entry<String, List<String>> h : req.headers.entrySet()) {
      String name = h.getKey();
      if (name.startsWith("x-kiln-")) continue;
      if (name.equals("cookie")) {
        for (String line : h.getValue()) {
          for (String c : line.split(";")) if (!c.isBlank()) cookies.add(c.trim());
        }
        continue;
      }
      headers.put(name, String.join(",", h.getValue()));
    }
    Map<String, Object> query = new LinkedHashMap<>();
    for (String[] kv : t.params()) {
      Object before = query.get(kv[0]);
      query.put(kv[0], before == null ? kv[1] : before + "," + kv[1]);
    }

    Map<String, Object> http = new LinkedHashMap<>();
    http.put("method", req.method);
    http.put("path", t.path);
    http.put("protocol", req.version);
    http.put("sourceIp", sourceIp(req));
    http.put("userAgent", req.header("user-agent") != null ? req.header("user-agent") : "");
    Map<String, Object> ctx = new LinkedHashMap<>();
    ctx.put("accountId", ACCOUNT_ID);
    ctx.put("apiId", API_ID);
    String domain = domainName(req);
    ctx.put("domainName", domain);
    ctx.put("domainPrefix", domainPrefix(domain));
    ctx.put("http", http);
    ctx.put("requestId", requestId);
    ctx.put("routeKey", "$default");
    ctx.put("stage", "$default");
    ctx.put("time", requestTime(nowMs));
    ctx.put("timeEpoch", nowMs);

    Map<String, Object> event = new LinkedHashMap<>();
    event.put("version", "2.0");
    event.put("routeKey", "$default");
    event.put("rawPath", t.path);
    event.put("rawQueryString", t.query);
    if (!cookies.isEmpty()) event.put("cookies", cookies);
    event.put("headers", headers);
    if (!query.isEmpty()) event.put("queryStringParameters", query);
    event.put("requestContext", ctx);
    boolean binary = putBody(event, req);
    event.put("isBase64Encoded", binary);
    return event;
  }

  /**
   * Payload format 1.0: {@code headers} and {@code queryStringParameters} hold the last value of
   * a repeated name, the multiValue maps every value (as SAM CLI's emulator builds them); both
   * query maps are null without a query string, body null without a body.
   */
  static Map<String, Object> v1(HttpRequest req, String requestId, long nowMs) {
    Target t = new Target(req.target);
    Map<String, Object> headers = new LinkedHashMap<>();
    Map<String, Object> multiHeaders = new LinkedHashMap<>();
    for (Map.Entry<String, List<String>> h : req.headers.entrySet()) {
      if (h.getKey().startsWith("x-kiln-")) continue;
      headers.put(h.getKey(), h.getValue().get(h.getValue().size() - 1));
      multiHeaders.put(h.getKey(), new ArrayList<Object>(h.getValue()));
    }
    Map<String, Object> query = new LinkedHashMap<>();
    Map<String, Object> multiQuery = new LinkedHashMap<>();
    for (String[] kv : t.params()) {
      query.put(kv[0], kv[1]);
      @SuppressWarnings("unchecked")
      List<Object> values = (List<Object>) multiQuery.get(kv[0]);
      if (values == null) multiQuery.put(kv[0], values = new ArrayList<>());
      values.add(kv[1]);
    }
    String ip = sourceIp(req);
    String agent = req.header("user-agent");
    Map<String, Object> identity = new LinkedHashMap<>();
    for (String k : new String[] {"accessKey", "accountId", "caller", "cognitoAuthenticationProvider",
        "cognitoAuthenticationType", "cognitoIdentityId", "cognitoIdentityPoolId", "principalOrgId"}) {
      identity.put(k, null);
    }
    identity.put("sourceIp", ip);
    identity.put("user", null);
    identity.put("userAgent", agent != null ? agent : "");
    identity.put("userArn", null);
    // Every path reaches the function's one handler, as on a REST API whose root `/` and greedy
    // `/{proxy+}` resources both integrate with it (the node and python shims' rule).
    boolean root = t.path.isEmpty() || t.path.equals("/");
    String resource = root ? "/" : "/{proxy+}";
    Map<String, Object> authorizer = new LinkedHashMap<>();
    authorizer.put("claims", null);
    authorizer.put("scopes", null);
    Map<String, Object> ctx = new LinkedHashMap<>();
    ctx.put("accountId", ACCOUNT_ID);
    ctx.put("apiId", API_ID);
    // As in AWS's payload format 1.0 example: no authorizer, so its claims and scopes are null.
    ctx.put("authorizer", authorizer);
    String domain = domainName(req);
    ctx.put("domainName", domain);
    ctx.put("domainPrefix", domainPrefix(domain));
    ctx.put("extendedRequestId", requestId);
    ctx.put("httpMethod", req.method);
    ctx.put("identity", identity);
    ctx.put("path", t.path);
    ctx.put("protocol", req.version);
    ctx.put("requestId", requestId);
    ctx.put("requestTime", requestTime(nowMs));
    ctx.put("requestTimeEpoch", nowMs);
    ctx.put("resourceId", null);
    ctx.put("resourcePath", resource);
    ctx.put("stage", "$default");

    Map<String, Object> event = new LinkedHashMap<>();
    event.put("version", "1.0");
    event.put("resource", resource);
    event.put("path", t.path);
    event.put("httpMethod", req.method);
    event.put("headers", headers);
    event.put("multiValueHeaders", multiHeaders);
    event.put("queryStringParameters", query.isEmpty() ? null : query);
    event.put("multiValueQueryStringParameters", multiQuery.isEmpty() ? null : multiQuery);
    event.put("requestContext", ctx);
    event.put("pathParameters", root ? null : Map.of("proxy", Target.decodePath(t.path.substring(1))));
    event.put("stageVariables", null);
    event.put("body", null);
    boolean binary = putBody(event, req);
    event.put("isBase64Encoded", binary);
    return event;
  }

  /** Sets "body" when there is one (text as is, anything else base64); says whether it is base64. */
  private static boolean putBody(Map<String, Object> event, HttpRequest req) {
    if (req.body.length == 0) return false;
    boolean text = isText(req.header("content-type"));
    event.put("body", text ? new String(req.body, StandardCharsets.UTF_8) : Base64.getEncoder().encodeToString(req.body));
    return !text;
  }

  /** Types whose bodies reach the handler as text; others (and binary uploads) are base64. */
  static boolean isText(String type) {
    if (type == null) return true;
    String t = type.toLowerCase();
    return t.startsWith("text/") || t.startsWith("application/json") || t.startsWith("application/xml")
        || t.startsWith("application/javascript") || t.startsWith("application/x-www-form-urlencoded")
        || t.startsWith("application/graphql") || t.contains("+json") || t.contains("+xml");
  }

  /**
   * The client's address. Served over TCP (outside Kiln), the connection's peer. Behind Kiln's
   * gateway (unix socket), the last x-forwarded-for entry: the one the gateway appended from its
   * own socket; earlier entries are the client's word.
   */
  static String sourceIp(HttpRequest req) {
    if (req.remoteAddress != null) return req.remoteAddress;
    String forwarded = req.header("x-forwarded-for");
    if (forwarded == null || forwarded.isBlank()) return "127.0.0.1";
    return forwarded.substring(forwarded.lastIndexOf(',') + 1).trim();
  }

  /** The Host header without its port: API Gateway's domainName. */
  static String domainName(HttpRequest req) {
    String host = req.header("host");
    if (host == null || host.isEmpty()) return "localhost";
    if (host.startsWith("[")) {
      int end = host.indexOf(']');
      return end < 0 ? host : host.substring(0, end + 1);
    }
    int colon = host.lastIndexOf(':');
    return colon < 0 ? host : host.substring(0, colon);
  }

  private static String domainPrefix(String domain) {
    int dot = domain.indexOf('.');
    return dot < 0 ? domain : domain.substring(0, dot);
  }

  /** {@code 12/Mar/2020:19:03:58 +0000}: the CLF time API Gateway writes, always in UTC. */
  static String requestTime(long epochMs) {
    long secs = Math.floorDiv(epochMs, 1000);
    long days = Math.floorDiv(secs, 86400);
    int secOfDay = Math.floorMod(secs, 86400);
    // Howard Hinnant's civil_from_days: proleptic Gregorian date of a day count since 1970-01-01.
    long z = days + 719468;
    long era = Math.floorDiv(z, 146097);
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    int day = (int) (doy - (153 * mp + 2) / 5 + 1);
    int month = (int) (mp < 10 ? mp + 3 : mp - 9);
    long year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    StringBuilder sb = new StringBuilder(26);
    two(sb, day).append('/').append(MONTHS[month - 1]).append('/').append(year).append(':');
    two(sb, secOfDay / 3600).append(':');
    two(sb, secOfDay / 60 % 60).append(':');
    two(sb, secOfDay % 60).append(" +0000");
    return sb.toString();
  }

  private static StringBuilder two(StringBuilder sb, int n) {
    if (n < 10) sb.append('0');
    return sb.append(n);
  }

  /** A request target split into its path and query, and the query's decoded parameters. */
  private static final class Target {
    final String path;
    final String query;

    Target(String target) {
      String t = target;
      // An absolute-form target (a proxy's): keep its path and query.
      if (t.startsWith("http://") || t.startsWith("https://")) {
        int slash = t.indexOf('/', t.indexOf("//") + 2);
        t = slash < 0 ? "/" : t.substring(slash);
      }
      int hash = t.indexOf('#');
      if (hash >= 0) t = t.substring(0, hash);
      int q = t.indexOf('?');
      path = q >= 0 ? t.substring(0, q) : t;
      query = q >= 0 ? t.substring(q + 1) : "";
    }

    List<String[]> params() {
      List<String[]> out = new ArrayList<>();
      if (query.isEmpty()) return out;
      for (String pair : query.split("&")) {
        if (pair.isEmpty()) continue;
        int eq = pair.indexOf('=');
        out.add(new String[] {decode(eq >= 0 ? pair.substring(0, eq) : pair), decode(eq >= 0 ? pair.substring(eq + 1) : "")});
      }
      return out;
    }

    /** A path's percent-escapes decoded ('+' is a plus in a path); a malformed one stays as written. */
    static String decodePath(String s) {
      return s.indexOf('%') < 0 ? s : decode(s.replace("+", "%2B"));
    }

    /** A malformed escape stays as written rather than failing the request. */
    private static String decode(String s) {
      if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s;
      try {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
      } catch (IllegalArgumentException e) {
        return s;
      }
    }
  }
}

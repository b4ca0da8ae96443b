package dev.kiln.shim;

import dev.kiln.Context;
import java.io.File;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URL;
import java.net.URLClassLoader;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;

/**
 * A loaded Java handler (docs/DESIGN.md §5): "ClassName" or "ClassName::method". Without a method,
 * a class implementing Function<Map, Object> is called through apply, any other through
 * handleRequest. The method takes (Map event, Context context) or (Map event).
 */
final class Handler {
  private final Object target;
  private final Method method;
  private final boolean wantsContext;
  private final FunctionInfo fn;

  private Handler(Object target, Method method, FunctionInfo fn) {
    this.target = target;
    this.method = method;
    this.wantsContext = method.getParameterCount() == 2;
    this.fn = fn;
  }

  static Handler load(String codeDir, String spec, FunctionInfo fn) throws ShimError {
    String className = spec;
    String methodName = null;
    int sep = spec.indexOf("::");
    if (sep >= 0) {
      className = spec.substring(0, sep);
      methodName = spec.substring(sep + 2);
    }
    ClassLoader loader = new URLClassLoader(classpath(codeDir), Handler.class.getClassLoader());
    Class<?> cls;
    try {
      cls = Class.forName(className, true, loader);
    } catch (ClassNotFoundException e) {
      throw new ShimError(400, "handler_not_found", "class " + className + " not found in " + codeDir);
    } catch (LinkageError e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      throw new ShimError(400, "handler_load_failed", "loading " + className + " failed: " + describe(cause));
    }
    if (methodName == null) {
      methodName = Function.class.isAssignableFrom(cls) ? "apply" : "handleRequest";
    }
    Method method = findMethod(cls, methodName);
    if (method == null) {
      throw new ShimError(400, "handler_not_found",
          "class " + className + " has no public method " + methodName + "(Map<String,Object> event[, Context context])");
    }
    method.setAccessible(true);
    Object target = null;
    if (!Modifier.isStatic(method.getModifiers())) {
      try {
        target = cls.getDeclaredConstructor().newInstance();
      } catch (InvocationTargetException e) {
        throw new ShimError(400, "handler_load_failed", "constructing " + className + " failed: " + describe(e.getCause()));
      } catch (ReflectiveOperationException e) {
        throw new ShimError(400, "handler_load_failed", className + " needs a public no-argument constructor: " + e);
      }
    }
    return new Handler(target, method, fn);
  }

  private static Method findMethod(Class<?> cls, String name) {
    Method oneArg = null;
    for (Method m : cls.getMethods()) {
      if (!m.getName().equals(name) || m.isBridge() && m.getParameterCount() != 1) continue;
      Class<?>[] p = m.getParameterTypes();
      if (p.length == 2 && p[0].isAssignableFrom(Map.class) && p[1].isAssignableFrom(Context.class)) return m;
      if (p.length == 1 && p[0].isAssignableFrom(Map.class)) oneArg = m;
    }
    return oneArg;
  }

  private static URL[] classpath(String codeDir) {
    List<URL> urls = new ArrayList<>();
    try {
      File root = new File(codeDir);
      File classes = new File(root, "classes");
      urls.add((classes.isDirectory() ? classes : root).toURI().toURL());
      for (File dir : new File[] {root, new File(root, "lib")}) {
        File[] jars = dir.listFiles((d, n) -> n.endsWith(".jar"));
        if (jars == null) continue;
        java.util.Arrays.sort(jars);
        for (File jar : jars) urls.add(jar.toURI().toURL());
      }
    } catch (java.net.MalformedURLException e) {
      throw new IllegalStateException(e);
    }
    return urls.toArray(new URL[0]);
  }

  static String describe(Throwable t) {
    String msg = t.getMessage();
    return t.getClass().getName() + (msg == null ? "" : ": " + msg);
  }

  Response invoke(HttpRequest req) {
    String requestId = req.header("x-kiln-request-id");
    if (requestId == null) requestId = UUID.randomUUID().toString();
    String deadlineHeader = req.header("x-kiln-deadline");
    long deadline = deadlineHeader != null ? Long.parseLong(deadlineHeader) : System.currentTimeMillis() + 30_000;
    Map<String, Object> event = event(req, requestId);
    Context context = new Invocation(requestId, deadline, fn);
    try {
      Object result = wantsContext ? method.invoke(target, event, context) : method.invoke(target, event);
      return Response.fromResult(result);
    } catch (InvocationTargetException e) {
      Throwable cause = e.getCause();
      cause.printStackTrace();
      return Response.error(500, "handler_error", describe(cause));
    } catch (IllegalAccessException e) {
      return Response.error(500, "handler_error", describe(e));
    }
  }

  /** The API Gateway HTTP API v2 event, as the Node and Python shims build it. */
  static Map<String, Object> event(HttpRequest req, String requestId) {
    String target = req.target;
    int q = target.indexOf('?');
    String rawPath = q >= 0 ? target.substring(0, q) : target;
    String rawQuery = q >= 0 ? target.substring(q + 1) : "";
    Map<String, Object> headers = new LinkedHashMap<>();
    for (Map.Entry<String, List<String>> h : req.headers.entrySet()) {
      if (h.getKey().startsWith("x-kiln-") || h.getKey().equals("cookie")) continue;
      headers.put(h.getKey(), String.join(",", h.getValue()));
    }
    Map<String, Object> query = new LinkedHashMap<>();
    if (!rawQuery.isEmpty()) {
      for (String pair : rawQuery.split("&")) {
        if (pair.isEmpty()) continue;
        int eq = pair.indexOf('=');
        String k = decode(eq >= 0 ? pair.substring(0, eq) : pair);
        String v = decode(eq >= 0 ? pair.substring(eq + 1) : "");
        query.merge(k, v, (a, b) -> a + "," + b);
      }
    }
    String host = req.header("host") != null ? req.header("host") : "localhost";
    String forwarded = req.header("x-forwarded-for");
    Map<String, Object> http = new LinkedHashMap<>();
    http.put("method", req.method);
    http.put("path", rawPath);
    http.put("protocol", "HTTP/1.1");
    http.put("sourceIp", forwarded != null ? forwarded.split(",")[0].trim() : "127.0.0.1");
    http.put("userAgent", req.header("user-agent") != null ? req.header("user-agent") : "");
    long now = System.currentTimeMillis();
    Map<String, Object> ctx = new LinkedHashMap<>();
    ctx.put("accountId", "kiln");
    ctx.put("apiId", "kiln");
    ctx.put("domainName", host);
    ctx.put("domainPrefix", host.split("\\.")[0]);
    ctx.put("http", http);
    ctx.put("requestId", requestId);
    ctx.put("routeKey", "$default");
    ctx.put("stage", "$default");
    ctx.put("time", Instant.ofEpochMilli(now).toString());
    ctx.put("timeEpoch", now);
    Map<String, Object> event = new LinkedHashMap<>();
    event.put("version", "2.0");
    event.put("routeKey", "$default");
    event.put("rawPath", rawPath);
    event.put("rawQueryString", rawQuery);
    String cookie = req.header("cookie");
    if (cookie != null) {
      List<Object> cookies = new ArrayList<>();
      for (String c : cookie.split(";\\s*")) if (!c.isEmpty()) cookies.add(c);
      event.put("cookies", cookies);
    }
    event.put("headers", headers);
    if (!query.isEmpty()) event.put("queryStringParameters", query);
    event.put("requestContext", ctx);
    boolean text = isText((String) headers.get("content-type"));
    if (req.body.length > 0) {
      event.put("body", text ? new String(req.body, StandardCharsets.UTF_8) : Base64.getEncoder().encodeToString(req.body));
    }
    event.put("isBase64Encoded", req.body.length > 0 && !text);
    return event;
  }

  private static boolean isText(String type) {
    if (type == null) return true;
    String t = type.toLowerCase();
    return t.startsWith("text/") || t.startsWith("application/json") || t.startsWith("application/xml")
        || t.startsWith("application/javascript") || t.startsWith("application/x-www-form-urlencoded")
        || t.contains("+json") || t.contains("+xml");
  }

  private static String decode(String s) {
    return URLDecoder.decode(s, StandardCharsets.UTF_8);
  }
}

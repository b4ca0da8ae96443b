package dev.kiln.shim;

import com.amazonaws.services.lambda.runtime.ClientContext;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * What the shim answers (SHIM-PROTOCOL.md): a health probe, {@code POST /init} once, then every
 * request is the function's: in HTTP mode it becomes an API Gateway event and the handler's
 * output an HTTP response by API Gateway's rules; in raw mode ({@code x-kiln-invoke: raw}) the
 * body is the event and the answer is the output, as Lambda's Invoke API gives it. A handler
 * that throws is logged as Lambda's Java runtime logs it and answered as API Gateway (HTTP) or
 * the Invoke API (raw) answers it; the instance keeps serving. Safe to call from many threads.
 */
final class Shim implements HttpConnection.App {
  private static final byte[] INTERNAL_ERROR = "{\"message\":\"Internal Server Error\"}".getBytes(StandardCharsets.UTF_8);

  /** The function this instance serves, once loaded. */
  private static final class Function {
    final FunctionInfo info;
    final Handler handler;
    final ClassLoader loader;

    Function(FunctionInfo info, Handler handler, ClassLoader loader) {
      this.info = info;
      this.handler = handler;
      this.loader = loader;
    }
  }

  private volatile Function fn;

  /** Loads the handler named by the environment, for an image run outside Kiln (TCP mode). */
  void loadAtBoot(String codeDir, String handler) throws ShimError {
    HandlerLoader.Loaded loaded = HandlerLoader.load(codeDir, handler);
    fn = new Function(FunctionInfo.fromEnv(), loaded.handler, loaded.loader);
  }

  @Override
  public Response answer(HttpRequest req) {
    try {
      if ("1".equals(req.header("x-kiln-health"))) return Response.ok();
      Function f = fn;
      if (f == null) {
        if (req.method.equals("POST") && req.target.equals("/init")) return init(req.body);
        return Response.error(503, "not_initialized", "the function has not been loaded yet (POST /init first)");
      }
      return invoke(f, req);
    } catch (RuntimeException | Error e) {
      // A bug of the shim's own: say so, keep the connection and the instance.
      logError(e);
      return Response.error(500, "shim_error", LambdaError.json(e).get("errorMessage").toString());
    }
  }

  private Response invoke(Function f, HttpRequest req) {
    String requestId = req.header("x-kiln-request-id");
    if (requestId == null) requestId = randomRequestId();
    long now = System.currentTimeMillis();
    long deadline = now + 30_000;
    String deadlineHeader = req.header("x-kiln-deadline");
    if (deadlineHeader != null) {
      try {
        deadline = Long.parseLong(deadlineHeader.trim());
      } catch (NumberFormatException e) {
        // keep the default
      }
    }
    boolean raw = "raw".equalsIgnoreCase(req.header("x-kiln-invoke"));
    // Only the Invoke API carries a client context (a mobile SDK's X-Amz-Client-Context).
    ClientContext clientContext = null;
    if (raw) {
      try {
        clientContext = InvokeClientContext.parse(req.header("x-amz-client-context"));
      } catch (IllegalArgumentException e) {
        return Response.error(400, "invalid_request_content",
            "X-Amz-Client-Context must be a base64-encoded JSON object: " + e.getMessage());
      }
    }
    LambdaContext context = new LambdaContext(requestId, deadline, f.info, req.header("x-amzn-trace-id"), clientContext);
    Thread.currentThread().setContextClassLoader(f.loader);
    if (raw) return raw(f, req, context);
    return http(f, req, context, now);
  }

  /** Lambda's Invoke API: the body is the event; 200 with the output, or with Lambda's error JSON. */
  private static Response raw(Function f, HttpRequest req, LambdaContext context) {
    byte[] payload;
    try {
      Output out = f.handler.call(Event.ofJson(req.body), context);
      payload = out.bytes != null ? out.bytes : serialize(out.value);
    } catch (Throwable t) {
      logError(t);
      return Response.json(200, LambdaError.json(t)).header("x-kiln-function-error", "Unhandled");
    }
    return new Response(200, "application/json", payload);
  }

  private static byte[] serialize(Object value) {
    try {
      return Json.bytes(value);
    } catch (RuntimeException | StackOverflowError e) {
      throw Handler.serializeError(e);
    }
  }

  /** API Gateway in front of the function: the request as an event, the output by the format's rules. */
  private static Response http(Function f, HttpRequest req, LambdaContext context, long now) {
    String format = f.info.eventFormat;
    Object tree;
    try {
      Output out = f.handler.call(Event.ofTree(ApiGatewayEvent.build(req, format, context.getAwsRequestId(), now)), context);
      if (out.bytes != null) {
        try {
          tree = Json.parse(out.bytes);
        } catch (IllegalArgumentException e) {
          return invalidResult(format, "the function's output is not JSON (" + e.getMessage() + ")");
        }
      } else {
        try {
          tree = Json.tree(out.value);
        } catch (RuntimeException | StackOverflowError e) {
          throw Handler.serializeError(e);
        }
      }
    } catch (Throwable t) {
      logError(t);
      return new Response(500, "application/json", INTERNAL_ERROR).header("x-kiln-error", "handler_error");
    }
    try {
      return ApiGatewayResult.toResponse(format, tree);
    } catch (ApiGatewayResult.Invalid e) {
      return invalidResult(format, e.getMessage());
    }
  }

  /** API Gateway answers an output it cannot use with a 500; the reason goes to the logs. */
  private static Response invalidResult(String format, String why) {
    log(System.err, "kiln: API Gateway (payload format " + format + ") cannot use the function's result: " + why + "\n");
    return new Response(500, "application/json", INTERNAL_ERROR).header("x-kiln-error", "invalid_handler_result");
  }

  static void logError(Throwable t) {
    log(System.err, LambdaError.logText(t));
  }

  private static void log(PrintStream stream, String text) {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    synchronized (stream) {
      stream.write(bytes, 0, bytes.length);
      stream.flush();
    }
  }

  /** A random (version 4) UUID without SecureRandom, whose first use costs tens of ms at cold start. */
  private static String randomRequestId() {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    long msb = (r.nextLong() & ~0xF000L) | 0x4000L;
    long lsb = (r.nextLong() & ~(0xC000000000000000L)) | 0x8000000000000000L;
    return new UUID(msb, lsb).toString();
  }

  // --- POST /init --------------------------------------------------------------------

  private Response init(byte[] body) {
    synchronized (this) {
      if (fn != null) return Response.error(409, "already_initialized", "the function is already loaded");
      try {
        fn = load(body);
        return Response.ok();
      } catch (ShimError e) {
        log(System.err, "kiln: " + e.getMessage() + "\n");
        return Response.error(e.status, e.code, e.getMessage());
      } catch (RuntimeException | LinkageError e) {
        String text = LambdaError.logText(e).trim();
        log(System.err, text + "\n");
        return Response.error(400, "handler_load_failed", text);
      }
    }
  }

  private static Function load(byte[] body) throws ShimError {
    Object parsed;
    try {
      parsed = Json.parse(body);
    } catch (IllegalArgumentException e) {
      throw new ShimError(400, "invalid_init", "POST /init needs a JSON object: " + e.getMessage());
    }
    if (!(parsed instanceof Map)) throw new ShimError(400, "invalid_init", "POST /init needs a JSON object");
    Map<?, ?> m = (Map<?, ?>) parsed;
    if (!(m.get("handler") instanceof String)) throw new ShimError(400, "invalid_init", "POST /init needs a handler string");
    Object format = m.get("eventFormat");
    if (format != null && !"1.0".equals(format) && !"2.0".equals(format)) {
      throw new ShimError(400, "invalid_init", "eventFormat must be \"2.0\" or \"1.0\"");
    }
    // The function's environment first: its handler's static initializers may read it.
    setEnv(m.get("env") instanceof Map ? (Map<?, ?>) m.get("env") : Map.of());
    FunctionInfo info;
    if (m.get("function") instanceof Map) {
      Map<?, ?> f = (Map<?, ?>) m.get("function");
      Object version = f.get("version");
      info = new FunctionInfo(
          f.get("name") instanceof String ? (String) f.get("name") : "function",
          version == null ? "$LATEST" : version.toString(),
          f.get("memoryMb") instanceof Number ? ((Number) f.get("memoryMb")).intValue() : 0,
          FunctionInfo.eventFormat(format));
    } else {
      FunctionInfo env = FunctionInfo.fromEnv();
      info = new FunctionInfo(env.name, env.version, env.memoryMb, FunctionInfo.eventFormat(format));
    }
    String codeDir = m.get("codeDir") instanceof String ? (String) m.get("codeDir") : "/fn";
    HandlerLoader.Loaded loaded = HandlerLoader.load(codeDir, (String) m.get("handler"));
    return new Function(info, loaded.handler, loaded.loader);
  }

  /**
   * A stem cell learns its function's environment only at init, after the JVM started;
   * the shim's own KILN_* variables go first;
   * System.getenv() is read-only, so the entries go into its backing map (the JVM runs with
   * --add-opens java.base/java.util=ALL-UNNAMED for this).
   */
  @SuppressWarnings("unchecked")
  private static void setEnv(Map<?, ?> env) {
    try {
      Map<String, String> view = System.getenv();
      Field field = view.getClass().getDeclaredField("m");
      field.setAccessible(true);
      Map<String, String> backing = (Map<String, String>) field.get(view);
      // The shim's own variables were read at boot; the function sees Lambda's environment
      // only, the same after a cold or a stem start.
      backing.keySet().removeIf(k -> k.startsWith("KILN_"));
      for (Map.Entry<?, ?> e : env.entrySet()) backing.put(String.valueOf(e.getKey()), String.valueOf(e.getValue()));
    } catch (ReflectiveOperationException | RuntimeException e) {
      log(System.err, "kiln: cannot set the function's environment: " + e + "\n");
    }
  }
}

package dev.kiln.shim;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Field;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Kiln's Java shim: HTTP/1.1 on the instance's unix socket (KILN_SOCKET; Java 16+ unix
 * domain sockets), or TCP :8080 outside Kiln, where it loads KILN_HANDLER at boot.
 * `POST /init {handler, env, codeDir, function}` once, then every request is the user's.
 * With `--train` it runs one fake request through every class and exits: the image build
 * runs that with -XX:ArchiveClassesAtExit to make the AppCDS archive of the shim.
 */
public final class Main {
  private static volatile Handler handler;

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("--train")) {
      train();
      return;
    }
    String socket = System.getenv("KILN_SOCKET");
    ServerSocketChannel server;
    if (socket != null) {
      Path path = Path.of(socket);
      Files.deleteIfExists(path);
      server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
      server.bind(UnixDomainSocketAddress.of(path));
    } else {
      String autoHandler = System.getenv("KILN_HANDLER");
      if (autoHandler != null) {
        String codeDir = System.getenv().getOrDefault("KILN_CODE_DIR", "/fn");
        handler = Handler.load(codeDir, autoHandler, infoFromEnv());
      }
      server = ServerSocketChannel.open();
      server.bind(new InetSocketAddress(Integer.parseInt(System.getenv().getOrDefault("PORT", "8080"))));
    }
    while (true) {
      SocketChannel ch = server.accept();
      Thread t = new Thread(() -> serve(ch));
      t.setDaemon(true);
      t.start();
    }
  }

  private static FunctionInfo infoFromEnv() {
    return new FunctionInfo(
        System.getenv().getOrDefault("KILN_FUNCTION", "function"),
        System.getenv().getOrDefault("KILN_VERSION", "$LATEST"),
        0);
  }

  private static void serve(SocketChannel ch) {
    try (ch) {
      InputStream in = new BufferedInputStream(Channels.newInputStream(ch));
      OutputStream out = new BufferedOutputStream(Channels.newOutputStream(ch));
      serveStream(in, out);
    } catch (IOException e) {
      // the gateway closed the connection
    }
  }

  private static void serveStream(InputStream in, OutputStream out) throws IOException {
    for (HttpRequest req = Http.read(in); req != null; req = Http.read(in)) {
      Response res = answer(req);
      Http.write(out, res.status, res.headers, res.body);
    }
  }

  private static Response answer(HttpRequest req) {
    Handler h = handler;
    if (h != null) return h.invoke(req);
    if (!req.method.equals("POST") || !req.target.equals("/init")) {
      return Response.error(503, "not_initialized", "the function has not been loaded yet (POST /init first)");
    }
    synchronized (Main.class) {
      try {
        init(req.body);
        return Response.json(200, Map.of("ok", true));
      } catch (ShimError e) {
        return Response.error(e.status, e.code, e.getMessage());
      } catch (RuntimeException e) {
        return Response.error(400, "handler_load_failed", Handler.describe(e));
      }
    }
  }

  private static void init(byte[] body) throws ShimError {
    Object parsed = Json.parse(new String(body, StandardCharsets.UTF_8));
    if (!(parsed instanceof Map)) throw new ShimError(400, "invalid_init", "POST /init needs a JSON object");
    Map<?, ?> m = (Map<?, ?>) parsed;
    if (m.get("env") instanceof Map) setEnv((Map<?, ?>) m.get("env"));
    FunctionInfo info = infoFromEnv();
    if (m.get("function") instanceof Map) {
      Map<?, ?> f = (Map<?, ?>) m.get("function");
      info = new FunctionInfo(String.valueOf(f.get("name")), String.valueOf(f.get("version")),
          f.get("memoryMb") instanceof Number ? ((Number) f.get("memoryMb")).intValue() : 0);
    }
    String codeDir = m.get("codeDir") instanceof String ? (String) m.get("codeDir") : "/fn";
    handler = Handler.load(codeDir, String.valueOf(m.get("handler")), info);
  }

  /**
   * A stem cell learns its function's environment only at init, after the JVM started;
   * System.getenv() is read-only, so the entry is added to its backing map (the JVM runs
   * with --add-opens java.base/java.util=ALL-UNNAMED for this).
   */
  @SuppressWarnings("unchecked")
  private static void setEnv(Map<?, ?> env) {
    if (env.isEmpty()) return;
    try {
      Map<String, String> view = System.getenv();
      Field field = view.getClass().getDeclaredField("m");
      field.setAccessible(true);
      Map<String, String> backing = (Map<String, String>) field.get(view);
      for (Map.Entry<?, ?> e : env.entrySet()) backing.put(String.valueOf(e.getKey()), String.valueOf(e.getValue()));
    } catch (ReflectiveOperationException | RuntimeException e) {
      System.err.println("kiln: cannot set the function's environment: " + e);
    }
  }

  /** One init and a few requests through in-memory streams, so every shim class is loaded. */
  private static void train() throws IOException {
    String init = "POST /init HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s";
    String initBody = "{\"handler\":\"dev.kiln.shim.Main$Training\",\"env\":{},\"codeDir\":\"/opt/kiln/shim\","
        + "\"function\":{\"name\":\"train\",\"version\":\"0\",\"memoryMb\":128}}";
    String call = "POST /a?b=1&b=2 HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncookie: a=1; b=2\r\n"
        + "x-kiln-request-id: r\r\nx-kiln-deadline: %d\r\ncontent-length: 11\r\n\r\n{\"n\":[1.5]}";
    StringBuilder script = new StringBuilder(String.format(init, initBody.length(), initBody));
    for (int i = 0; i < 3; i++) script.append(String.format(call, System.currentTimeMillis() + 1000));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    serveStream(new ByteArrayInputStream(script.toString().getBytes(StandardCharsets.UTF_8)), out);
    System.out.println("kiln: trained the shim (" + out.size() + " response bytes)");
  }

  /** The handler the training run loads. */
  public static final class Training implements java.util.function.Function<Map<String, Object>, Object> {
    @Override
    public Object apply(Map<String, Object> event) {
      return Map.of("statusCode", 200, "headers", Map.of("x", "y"), "body", Json.stringify(event));
    }
  }
}

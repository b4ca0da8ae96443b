package dev.kiln.shim;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import com.amazonaws.services.lambda.runtime.logging.LogLevel;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The image build's training run (Main --train under -XX:ArchiveClassesAtExit): requests of
 * every kind, through every handler form, both payload formats and raw mode, errors included,
 * and one connection over a real unix socket, so that the AppCDS archive holds every class a
 * function's first requests need. Its output is thrown away; only the classes it loaded matter.
 */
final class Training {
  private Training() {}

  static void run() throws IOException {
    long total = 0;
    total += session("dev.kiln.shim.Training$MapHandler", "2.0", rawCall("{\"n\":[1.5,2,\"x\"],\"ok\":true}"));
    total += session("dev.kiln.shim.Training$PojoHandler", "1.0", rawCall("{\"item\":\"tea\",\"qty\":2,\"extra\":{}}"));
    total += session("dev.kiln.shim.Training$Methods::record", "2.0", rawCall("{\"name\":\"a\",\"tags\":[\"b\"]}"));
    total += session("dev.kiln.shim.Training$Methods::fails", "2.0", rawCall("null"));
    total += session("dev.kiln.shim.Training$StreamHandler", "1.0", "");
    total += session("dev.kiln.shim.Training$Hello", "2.0", "");
    total += socketSession();
    total += classFromDirectory();
    System.out.println("kiln: trained the shim (" + total + " response bytes)");
  }

  /**
   * A stem cell's warm-up: a function's first requests (both payload formats, raw mode)
   * through a handler that writes nothing, over in-memory streams, so nothing of it reaches
   * the function's logs. Best effort: a failure only leaves the cell as cold as before.
   */
  static void warmUp() {
    try {
      session(Quiet.class.getName(), "2.0", rawCall("{\"n\":[1.5,2,\"x\"],\"ok\":true}"));
      session(Quiet.class.getName(), "1.0", "");
    } catch (IOException | RuntimeException e) {
      // not worth a log line: the first request pays what the warm-up did not
    }
  }

  /** Init plus the requests every function sees, over in-memory streams. */
  private static long session(String handler, String format, String extra) throws IOException {
    String init = "{\"handler\":\"" + handler + "\",\"source\":\"x\",\"env\":{},\"codeDir\":\"/opt/kiln/shim\","
        + "\"function\":{\"name\":\"train\",\"version\":1,\"memoryMb\":128},\"eventFormat\":\"" + format + "\",\"concurrency\":1}";
    String script = "GET / HTTP/1.1\r\nhost: x\r\n\r\n"
        + post("/init", "application/json", init, "")
        + "GET /health HTTP/1.1\r\nx-kiln-health: 1\r\n\r\n"
        + post("/a/b?x=1&x=2&y=%20z", "application/json", "{\"order\":[1,2]}",
            "cookie: a=1; b=2\r\nx-forwarded-for: 10.0.0.1, 127.0.0.1\r\nuser-agent: train\r\n")
        + "HEAD /h HTTP/1.1\r\nhost: x\r\n\r\n"
        + "PUT /bin HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\nexpect: 100-continue\r\n"
        + "transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        + extra
        + "GET / HTTP/1.0\r\n\r\n";
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    HttpConnection.serve(new ByteArrayInputStream(script.getBytes(StandardCharsets.ISO_8859_1)), out, null, 1 << 20, new Shim());
    HttpConnection.serve(new ByteArrayInputStream("BAD\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1)), out, null, 1 << 20, new Shim());
    return out.size();
  }

  private static String rawCall(String event) {
    return post("/2015-03-31/functions/train/invocations", "application/json", event, "x-kiln-invoke: raw\r\n");
  }

  private static String post(String path, String type, String body, String headers) {
    return "POST " + path + " HTTP/1.1\r\nhost: x\r\ncontent-type: " + type + "\r\nx-kiln-request-id: 8d8f1e0e-0000-4000-8000-000000000000\r\n"
        + "x-kiln-deadline: " + (System.currentTimeMillis() + 60_000) + "\r\n" + headers
        + "content-length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body;
  }

  /** One init and one request over a real unix socket: the socket and channel classes. */
  private static long socketSession() throws IOException {
    Path path = Path.of(System.getProperty("java.io.tmpdir"), "kiln-train-" + ProcessHandle.current().pid() + ".sock");
    ServerSocketChannel server;
    try {
      server = Main.bindUnix(path);
    } catch (IOException | UnsupportedOperationException e) {
      return 0;
    }
    Thread acceptor = new Thread(new Accept(server), "kiln-train");
    acceptor.setDaemon(true);
    acceptor.start();
    long n = 0;
    try (SocketChannel client = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      client.connect(UnixDomainSocketAddress.of(path));
      OutputStream out = Channels.newOutputStream(client);
      String init = "{\"handler\":\"dev.kiln.shim.Training$Hello\",\"codeDir\":\"/opt/kiln/shim\",\"env\":{\"KILN_TRAINING\":\"1\"}}";
      out.write((post("/init", "application/json", init, "") + "GET /?name=x HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = Channels.newInputStream(client);
      n = in.readAllBytes().length;
    } finally {
      server.close();
      Files.deleteIfExists(path);
    }
    return n;
  }

  /**
   * Loads a class from a directory through a URLClassLoader, as a function's classes are
   * loaded from /fn/classes: the JDK's file-URL loading classes then come from the archive too.
   */
  private static long classFromDirectory() throws IOException {
    String name = Probe.class.getName();
    String file = name.replace('.', '/') + ".class";
    Path dir = Files.createTempDirectory("kiln-train");
    Path target = dir.resolve(file);
    try (InputStream in = Training.class.getClassLoader().getResourceAsStream(file)) {
      if (in == null) return 0;
      Files.createDirectories(target.getParent());
      Files.write(target, in.readAllBytes());
    }
    try (java.net.URLClassLoader loader = new java.net.URLClassLoader(new java.net.URL[] {dir.toUri().toURL()}, null)) {
      return Class.forName(name, true, loader).getName().length();
    } catch (ClassNotFoundException e) {
      return 0;
    } finally {
      Files.deleteIfExists(target);
    }
  }

  /** The class {@link #classFromDirectory} loads: it needs nothing but java.base. */
  public static final class Probe {}

  private static final class Accept implements Runnable {
    private final ServerSocketChannel server;

    Accept(ServerSocketChannel server) {
      this.server = server;
    }

    @Override
    public void run() {
      try {
        Main.acceptLoop(server, new Shim(), 1 << 20, false);
      } catch (IOException e) {
        // closed at the end of training
      }
    }
  }

  // --- the handlers training runs -------------------------------------------------------

  public static final class Hello {
    public Object handleRequest(Map<String, Object> event, dev.kiln.Context context) {
      context.getLogger().log("hello from " + context.getFunctionName());
      return "Hello, " + event.get("rawPath") + " " + context.getRemainingTimeInMillis();
    }
  }

  /**
   * The warm-up's handler: it reads the event and the context and logs nothing; its result is
   * valid in both payload formats (a string is not in 1.0, whose complaint would be logged).
   */
  public static final class Quiet {
    public Object handleRequest(Map<String, Object> event, dev.kiln.Context context) {
      return Map.of("statusCode", 200, "headers", Map.of("content-type", "text/plain"),
          "body", "warm " + event.size() + " " + context.getRemainingTimeInMillis());
    }
  }

  public static final class MapHandler implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    @Override
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
      context.getLogger().log("event", LogLevel.INFO);
      return Map.of("statusCode", 201, "headers", Map.of("x-a", "b"), "cookies", List.of("c=d"), "body", event.size());
    }
  }

  public static final class Order {
    private String item;
    public int qty;

    public String getItem() {
      return item;
    }

    public void setItem(String item) {
      this.item = item;
    }
  }

  public static final class Receipt {
    private final Order order;
    private final boolean paid;

    Receipt(Order order, boolean paid) {
      this.order = order;
      this.paid = paid;
    }

    public Order getOrder() {
      return order;
    }

    public boolean isPaid() {
      return paid;
    }

    public String getNote() {
      return null;
    }
  }

  public static final class PojoHandler implements RequestHandler<Order, Receipt> {
    @Override
    public Receipt handleRequest(Order order, Context context) {
      return new Receipt(order, true);
    }
  }

  public record Tag(String name, List<String> tags) {}

  public static final class Methods {
    public Tag record(Tag in, Context context) {
      return new Tag(in == null ? "none" : in.name(), List.of(context.getAwsRequestId()));
    }

    public static Object fails(Map<String, Object> event) {
      throw new IllegalStateException("training failure");
    }
  }

  public static final class StreamHandler implements RequestStreamHandler {
    @Override
    public void handleRequest(InputStream input, OutputStream output, Context context) throws IOException {
      byte[] in = input.readAllBytes();
      output.write(("{\"statusCode\":200,\"body\":\"" + in.length + "\"}").getBytes(StandardCharsets.UTF_8));
    }
  }
}

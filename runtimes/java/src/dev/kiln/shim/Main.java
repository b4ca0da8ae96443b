package dev.kiln.shim;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channel;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Kiln's Java shim (SHIM-PROTOCOL.md): an HTTP/1.1 server for one function, listening where the
 * environment says (§1): on fd 0 when KILN_LISTEN_FD is set (a unix socket the gateway created
 * and passed in; {@code System.inheritedChannel()} returns it, JDK 16+), else on the unix path
 * KILN_SOCKET, else on TCP :$PORT (8080) outside Kiln, where KILN_HANDLER is loaded at boot.
 * Each connection is served on its own thread, so requests on different connections run in
 * parallel (the gateway opens as many as the function's concurrency).
 * With {@code --train} it runs requests of every kind through the shim and exits: the image
 * build runs that with -XX:ArchiveClassesAtExit to make the shim's AppCDS archive. A stem
 * cell ({@code KILN_WARMUP=1}) runs a quiet part of that training before it accepts.
 */
public final class Main {
  /** Lambda's synchronous payload limit (SHIM-PROTOCOL §6). */
  private static final long DEFAULT_MAX_BODY = 6L * 1024 * 1024;

  private Main() {}

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("--train")) {
      Training.run();
      return;
    }
    Map<String, String> env = System.getenv();
    Shim shim = new Shim();
    ServerSocketChannel server;
    boolean tcp = false;
    if (env.get("KILN_LISTEN_FD") != null) {
      server = inherited(env.get("KILN_LISTEN_FD"));
    } else if (env.get("KILN_SOCKET") != null) {
      server = bindUnix(Path.of(env.get("KILN_SOCKET")));
    } else {
      String handler = env.get("KILN_HANDLER");
      if (handler != null) {
        try {
          shim.loadAtBoot(env.getOrDefault("KILN_CODE_DIR", "/fn"), handler);
        } catch (ShimError e) {
          System.err.println("kiln: " + e.getMessage());
          System.exit(1);
        }
      }
      server = ServerSocketChannel.open();
      server.bind(new InetSocketAddress(Integer.parseInt(env.getOrDefault("PORT", "8080"))), 512);
      tcp = true;
    }
    long maxBody = maxBody(env);
    // A stem cell (KILN_WARMUP=1) pays the first requests' linking, class initialization and
    // call-site bootstraps before it counts as ready, not while a request waits (issue 17).
    // After the environment is read: the warm-up's /init clears the KILN_* variables.
    if ("1".equals(env.get("KILN_WARMUP"))) Training.warmUp();
    acceptLoop(server, shim, maxBody, tcp);
  }

  private static ServerSocketChannel inherited(String fd) {
    Channel channel = null;
    IOException error = null;
    try {
      channel = System.inheritedChannel();
    } catch (IOException e) {
      error = e;
    }
    if (!"0".equals(fd) || !(channel instanceof ServerSocketChannel)) {
      System.err.println("kiln: KILN_LISTEN_FD=" + fd + " but fd 0 is not a listening socket ("
          + (error != null ? error : channel == null ? "System.inheritedChannel() returned null" : channel.getClass().getName()) + ")");
      System.exit(1);
    }
    return (ServerSocketChannel) channel;
  }

  static ServerSocketChannel bindUnix(Path path) throws IOException {
    Files.deleteIfExists(path);
    ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(path), 512);
    return server;
  }

  static long maxBody(Map<String, String> env) {
    try {
      return Long.parseLong(env.getOrDefault("KILN_MAX_BODY_BYTES", String.valueOf(DEFAULT_MAX_BODY)).trim());
    } catch (NumberFormatException e) {
      return DEFAULT_MAX_BODY;
    }
  }

  static void acceptLoop(ServerSocketChannel server, Shim shim, long maxBody, boolean tcp) throws IOException {
    while (true) {
      SocketChannel ch;
      try {
        ch = server.accept();
      } catch (IOException e) {
        if (!server.isOpen()) return;
        System.err.println("kiln: accept failed: " + e);
        continue;
      }
      Thread t = new Thread(new Connection(ch, shim, maxBody, tcp), "kiln-connection");
      t.setDaemon(true);
      t.start();
    }
  }

  /** One connection's thread (a class rather than a lambda: no bootstrap at cold start). */
  private static final class Connection implements Runnable {
    private final SocketChannel ch;
    private final Shim shim;
    private final long maxBody;
    private final boolean tcp;

    Connection(SocketChannel ch, Shim shim, long maxBody, boolean tcp) {
      this.ch = ch;
      this.shim = shim;
      this.maxBody = maxBody;
      this.tcp = tcp;
    }

    @Override
    public void run() {
      try (SocketChannel c = ch) {
        String remote = null;
        if (tcp) {
          c.setOption(StandardSocketOptions.TCP_NODELAY, true);
          SocketAddress a = c.getRemoteAddress();
          if (a instanceof InetSocketAddress) remote = ((InetSocketAddress) a).getAddress().getHostAddress();
        }
        InputStream in = Channels.newInputStream(c);
        OutputStream out = new BufferedOutputStream(Channels.newOutputStream(c), 16 * 1024);
        HttpConnection.serve(in, out, remote, maxBody, shim);
      } catch (IOException e) {
        // the peer went away
      }
    }
  }
}

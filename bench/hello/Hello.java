import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** The benchmark's hello for a bare JVM: a fixed HTTP answer on a unix socket. */
public class Hello {
  public static void main(String[] args) throws Exception {
    ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(Path.of(System.getenv("HELLO_SOCKET"))));
    byte[] answer = "HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nhello\n".getBytes(StandardCharsets.US_ASCII);
    while (true) {
      try (SocketChannel ch = server.accept()) {
        ByteBuffer buf = ByteBuffer.allocate(65536);
        String seen = "";
        while (!seen.contains("\r\n\r\n") && ch.read(buf) > 0) seen = new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII);
        ch.write(ByteBuffer.wrap(answer));
      }
    }
  }
}

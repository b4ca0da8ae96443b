package dev.kiln.shim;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * One HTTP/1.1 connection, served on its own thread so that a slow or half-sent request never
 * holds up another connection: requests are read and answered one after the other, so pipelined
 * requests are answered in order; keep-alive unless the client asks to close; {@code Expect:
 * 100-continue} answered before the body is read; HEAD answered without a body; a request the
 * reader refuses gets its 4xx and the connection closes (SHIM-PROTOCOL §6).
 */
final class HttpConnection {
  private static final byte[] CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);

  /** What answers a request that was read whole. */
  interface App {
    Response answer(HttpRequest request);
  }

  private HttpConnection() {}

  static void serve(InputStream in, OutputStream out, String remoteAddress, long maxBody, App app) throws IOException {
    HttpReader reader = new HttpReader(in, maxBody);
    while (true) {
      HttpRequest req;
      try {
        req = reader.readHead();
        if (req == null) return;
        req.remoteAddress = remoteAddress;
        long length = reader.bodyLength(req);
        String expect = req.header("expect");
        if (expect != null) {
          if (!expect.equalsIgnoreCase("100-continue")) {
            throw new ShimError(417, "expectation_failed", "only Expect: 100-continue is understood");
          }
          // RFC 9110 §10.1.1: a 1.0 client does not understand 100; a request without a body needs none.
          if (req.version.equals("HTTP/1.1") && length != 0) {
            out.write(CONTINUE);
            out.flush();
          }
        }
        req.body = reader.readBody(length);
      } catch (ShimError e) {
        Response r = Response.error(e.status, e.code, e.getMessage());
        write(out, r, false, false);
        return;
      }
      Response res = app.answer(req);
      boolean keepAlive = req.keepAlive();
      write(out, res, req.method.equals("HEAD"), keepAlive);
      if (!keepAlive) return;
    }
  }

  static void write(OutputStream out, Response res, boolean headOnly, boolean keepAlive) throws IOException {
    StringBuilder head = new StringBuilder(256);
    head.append("HTTP/1.1 ").append(res.status).append(' ').append(reason(res.status)).append("\r\n");
    for (Map.Entry<String, List<String>> h : res.headers.entrySet()) {
      String name = h.getKey();
      if (name.equals("content-length") || name.equals("transfer-encoding") || name.equals("connection")) continue;
      for (String v : h.getValue()) head.append(name).append(": ").append(v).append("\r\n");
    }
    // RFC 9110 §8.6: no content-length on 1xx/204; a 304 and a HEAD answer say the length of what GET would send.
    boolean bodiless = res.status == 204 || res.status == 304 || res.status < 200;
    if (!bodiless || res.status == 304) head.append("content-length: ").append(res.body.length).append("\r\n");
    if (!keepAlive) head.append("connection: close\r\n");
    head.append("\r\n");
    out.write(head.toString().getBytes(StandardCharsets.UTF_8));
    if (!headOnly && !bodiless) out.write(res.body);
    out.flush();
  }

  static String reason(int status) {
    switch (status) {
      case 200: return "OK";
      case 201: return "Created";
      case 202: return "Accepted";
      case 204: return "No Content";
      case 301: return "Moved Permanently";
      case 302: return "Found";
      case 303: return "See Other";
      case 304: return "Not Modified";
      case 307: return "Temporary Redirect";
      case 308: return "Permanent Redirect";
      case 400: return "Bad Request";
      case 401: return "Unauthorized";
      case 403: return "Forbidden";
      case 404: return "Not Found";
      case 405: return "Method Not Allowed";
      case 409: return "Conflict";
      case 413: return "Content Too Large";
      case 417: return "Expectation Failed";
      case 422: return "Unprocessable Content";
      case 429: return "Too Many Requests";
      case 431: return "Request Header Fields Too Large";
      case 500: return "Internal Server Error";
      case 501: return "Not Implemented";
      case 502: return "Bad Gateway";
      case 503: return "Service Unavailable";
      case 504: return "Gateway Timeout";
      case 505: return "HTTP Version Not Supported";
      default: return "Status " + status;
    }
  }
}

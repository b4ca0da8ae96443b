package dev.kiln.shim;

/** A request the shim refuses at the HTTP level (400, 413, 431, ...); the connection is closed after the answer. */
final class HttpError extends Exception {
  private static final long serialVersionUID = 1L;

  final int status;
  final String code;

  HttpError(int status, String code, String message) {
    super(message, null, false, false);
    this.status = status;
    this.code = code;
  }
}

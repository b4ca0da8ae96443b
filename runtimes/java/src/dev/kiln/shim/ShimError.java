package dev.kiln.shim;

/**
 * An error the shim answers itself, with its HTTP status and the code the gateway passes on
 * (SHIM-PROTOCOL.md): a request the HTTP reader refuses (400, 413, 431, ...; the connection is
 * closed after the answer) or an init that fails (400 handler_not_found, handler_load_failed).
 */
final class ShimError extends Exception {
  private static final long serialVersionUID = 1L;

  final int status;
  final String code;

  ShimError(int status, String code, String message) {
    super(message, null, false, false);
    this.status = status;
    this.code = code;
  }
}

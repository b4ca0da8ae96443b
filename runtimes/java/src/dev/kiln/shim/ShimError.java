package dev.kiln.shim;

/** An error the shim answers itself, with the code the gateway passes on (docs/DESIGN.md §5). */
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

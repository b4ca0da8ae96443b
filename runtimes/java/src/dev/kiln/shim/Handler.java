package dev.kiln.shim;

/** A loaded handler, whatever its form: one call per invocation, from any thread. */
abstract class Handler {
  /** Runs the handler on one event and returns what it produced; throws what the handler threw. */
  abstract Output call(Event event, LambdaContext context) throws Throwable;

  /** Lambda's wrapping of an event that cannot become the handler's input type (EventHandlerLoader). */
  static RuntimeException parseError(Throwable cause) {
    return new RuntimeException("An error occurred during JSON parsing", cause);
  }

  /** Lambda's wrapping of a result that cannot be serialized. */
  static RuntimeException serializeError(Throwable cause) {
    return new RuntimeException("An error occurred during JSON serialization of response", cause);
  }
}

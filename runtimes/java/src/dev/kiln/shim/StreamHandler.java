package dev.kiln.shim;

import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;

/**
 * A handler of bytes: {@code RequestStreamHandler}, or a public method taking some of
 * {@code (InputStream, OutputStream, Context)} in that order. The event's JSON is the input,
 * what it writes is the output; one that takes no OutputStream answers {@code null}, as on Lambda.
 */
final class StreamHandler extends Handler {
  private static final byte[] NULL = "null".getBytes(StandardCharsets.US_ASCII);

  private final Object target;
  /** Null for a RequestStreamHandler. */
  private final Method method;
  private final boolean wantsInput;
  private final boolean wantsOutput;
  private final boolean wantsContext;

  StreamHandler(Object target, Method method, boolean wantsInput, boolean wantsOutput, boolean wantsContext) {
    this.target = target;
    this.method = method;
    this.wantsInput = wantsInput;
    this.wantsOutput = wantsOutput;
    this.wantsContext = wantsContext;
  }

  @Override
  Output call(Event event, LambdaContext context) throws Throwable {
    InputStream in = new ByteArrayInputStream(event.json());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    if (method == null) {
      ((RequestStreamHandler) target).handleRequest(in, out, context);
      return Output.bytes(out.toByteArray());
    }
    Object[] args = new Object[(wantsInput ? 1 : 0) + (wantsOutput ? 1 : 0) + (wantsContext ? 1 : 0)];
    int i = 0;
    if (wantsInput) args[i++] = in;
    if (wantsOutput) args[i++] = out;
    if (wantsContext) args[i] = context;
    try {
      method.invoke(target, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
    return Output.bytes(wantsOutput ? out.toByteArray() : NULL);
  }
}

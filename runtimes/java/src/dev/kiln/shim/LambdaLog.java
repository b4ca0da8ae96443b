package dev.kiln.shim;

import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.logging.LogLevel;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * The LambdaLogger every Context and {@code LambdaRuntime.getLogger()} return. On Lambda each
 * {@code log()} call is one log event, its text as given; the gateway reads stdout line by line
 * (SHIM-PROTOCOL §5), so the message is written as is, followed by a newline when it has none,
 * and flushed at once. With a level, TEXT format's {@code [LEVEL] } prefix, and levels below
 * AWS_LAMBDA_LOG_LEVEL dropped (aws-lambda-java-runtime-interface-client's TextLogFormatter and
 * LogFiltering).
 */
public final class LambdaLog implements LambdaLogger {
  public static final LambdaLog INSTANCE = new LambdaLog();

  private LambdaLog() {}

  @Override
  public void log(String message) {
    write(String.valueOf(message).getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public void log(byte[] message) {
    if (message != null) write(message);
  }

  @Override
  public void log(String message, LogLevel level) {
    if (!enabled(level)) return;
    log(level == null || level == LogLevel.UNDEFINED ? message : "[" + level + "] " + message);
  }

  @Override
  public void log(byte[] message, LogLevel level) {
    if (enabled(level)) log(message);
  }

  private static boolean enabled(LogLevel level) {
    if (level == null || level == LogLevel.UNDEFINED) return true;
    String min = System.getenv("AWS_LAMBDA_LOG_LEVEL");
    if (min == null || min.isEmpty()) return true;
    try {
      return level.ordinal() >= LogLevel.fromString(min).ordinal();
    } catch (IllegalArgumentException e) {
      return true;
    }
  }

  private static void write(byte[] bytes) {
    PrintStream out = System.out;
    synchronized (out) {
      out.write(bytes, 0, bytes.length);
      if (bytes.length == 0 || bytes[bytes.length - 1] != '\n') out.write('\n');
      out.flush();
    }
  }
}

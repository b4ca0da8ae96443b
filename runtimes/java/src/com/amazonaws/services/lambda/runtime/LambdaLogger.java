package com.amazonaws.services.lambda.runtime;

import com.amazonaws.services.lambda.runtime.logging.LogLevel;

/** The low-level logger a handler gets from {@link Context#getLogger()} (aws-lambda-java-core's interface). */
public interface LambdaLogger {
  /** Logs a message to the function's logs. */
  void log(String message);

  /** Logs bytes to the function's logs, as they are. */
  void log(byte[] message);

  default void log(String message, LogLevel logLevel) {
    log(message);
  }

  default void log(byte[] message, LogLevel logLevel) {
    log(message);
  }
}

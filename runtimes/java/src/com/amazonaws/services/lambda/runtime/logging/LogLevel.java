package com.amazonaws.services.lambda.runtime.logging;

/** Log levels of {@code LambdaLogger.log(message, level)}; UNDEFINED is the plain {@code log(message)}. */
public enum LogLevel {
  UNDEFINED,
  TRACE,
  DEBUG,
  INFO,
  WARN,
  ERROR,
  FATAL;

  public static LogLevel fromString(String logLevel) {
    try {
      return LogLevel.valueOf(logLevel.toUpperCase());
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          "Invalid log level: '" + logLevel + "' expected one of [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]");
    }
  }
}

package com.amazonaws.services.lambda.runtime.logging;

/** Lambda's log formats (AWS_LAMBDA_LOG_FORMAT). Kiln writes TEXT. */
public enum LogFormat {
  JSON,
  TEXT;

  public static LogFormat fromString(String logFormat) {
    try {
      return LogFormat.valueOf(logFormat.toUpperCase());
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("Invalid log format: '" + logFormat + "' expected one of [JSON, TEXT]");
    }
  }
}

package com.amazonaws.services.lambda.runtime;

/**
 * A switch aws-lambda-java-log4j2's appender reads and sets (aws-lambda-java-core's class); kept so
 * functions that ship that appender load. Kiln's logs are stdout either way.
 */
public final class LambdaRuntimeInternal {
  private static volatile boolean useLog4jAppender;

  private LambdaRuntimeInternal() {}

  public static void setUseLog4jAppender(boolean useLog4j) {
    useLog4jAppender = useLog4j;
  }

  public static boolean getUseLog4jAppender() {
    return useLog4jAppender;
  }
}

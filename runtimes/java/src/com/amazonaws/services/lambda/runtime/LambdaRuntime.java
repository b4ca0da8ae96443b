package com.amazonaws.services.lambda.runtime;

import dev.kiln.shim.LambdaLog;

/** The process-wide logger, for code that has no {@link Context} at hand (aws-lambda-java-core's class). */
public final class LambdaRuntime {
  private LambdaRuntime() {}

  public static LambdaLogger getLogger() {
    return LambdaLog.INSTANCE;
  }
}

package dev.kiln.shim;

import dev.kiln.Context;

/** The Context one request's handler gets. */
final class Invocation implements Context {
  private final String requestId;
  private final long deadline;
  private final FunctionInfo fn;

  Invocation(String requestId, long deadline, FunctionInfo fn) {
    this.requestId = requestId;
    this.deadline = deadline;
    this.fn = fn;
  }

  @Override public String getAwsRequestId() { return requestId; }
  @Override public String getFunctionName() { return fn.name; }
  @Override public String getFunctionVersion() { return fn.version; }
  @Override public String getInvokedFunctionArn() { return "arn:kiln:function:" + fn.name + ":" + fn.version; }
  @Override public int getMemoryLimitInMB() { return fn.memoryMb; }
  @Override public int getRemainingTimeInMillis() { return (int) Math.max(0, deadline - System.currentTimeMillis()); }
  @Override public String getLogGroupName() { return "/kiln/" + fn.name; }
  @Override public String getLogStreamName() { return fn.version; }
}

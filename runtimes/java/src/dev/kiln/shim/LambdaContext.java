package dev.kiln.shim;

import com.amazonaws.services.lambda.runtime.ClientContext;
import com.amazonaws.services.lambda.runtime.CognitoIdentity;
import com.amazonaws.services.lambda.runtime.LambdaLogger;

/**
 * The Context one invocation's handler gets, with the types Lambda's Java runtime gives
 * (aws-lambda-java-runtime-interface-client's LambdaContext): memory and remaining time as
 * {@code int}, the version as a String, identity and client context null unless the invoke
 * carried them. It also implements Kiln's older {@code dev.kiln.Context}.
 */
final class LambdaContext implements dev.kiln.Context {
  private final String requestId;
  private final long deadline;
  private final FunctionInfo fn;
  private final String traceId;
  private final ClientContext clientContext;

  LambdaContext(String requestId, long deadline, FunctionInfo fn, String traceId, ClientContext clientContext) {
    this.requestId = requestId;
    this.deadline = deadline;
    this.fn = fn;
    this.traceId = traceId;
    this.clientContext = clientContext;
  }

  @Override public String getAwsRequestId() { return requestId; }
  @Override public String getLogGroupName() { return fn.logGroup; }
  @Override public String getLogStreamName() { return fn.logStream; }
  @Override public String getFunctionName() { return fn.name; }
  @Override public String getFunctionVersion() { return fn.version; }
  @Override public String getInvokedFunctionArn() { return fn.arn; }
  @Override public CognitoIdentity getIdentity() { return null; }
  @Override public ClientContext getClientContext() { return clientContext; }
  @Override public int getMemoryLimitInMB() { return fn.memoryMb; }
  @Override public LambdaLogger getLogger() { return LambdaLog.INSTANCE; }
  @Override public String getXrayTraceId() { return traceId; }

  @Override
  public int getRemainingTimeInMillis() {
    long left = deadline - System.currentTimeMillis();
    return (int) Math.max(0, Math.min(Integer.MAX_VALUE, left));
  }
}

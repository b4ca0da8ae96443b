package com.amazonaws.services.lambda.runtime;

/**
 * What a handler learns about its invocation and its function: Kiln's implementation of the
 * interface of the same name in AWS's aws-lambda-java-core (same package, names and method
 * signatures, written from its documentation), so handlers written for Lambda compile and run
 * unchanged.
 */
public interface Context {
  /** The request id: the same for the client's invoke and the function's log lines. */
  String getAwsRequestId();

  /** The log group the function logs to (AWS_LAMBDA_LOG_GROUP_NAME); may be null. */
  String getLogGroupName();

  /** The log stream of this instance (AWS_LAMBDA_LOG_STREAM_NAME); may be null. */
  String getLogStreamName();

  String getFunctionName();

  String getFunctionVersion();

  String getInvokedFunctionArn();

  /** The Amazon Cognito identity of the caller; null unless the invoke carried one. */
  CognitoIdentity getIdentity();

  /** The client application's context (AWS Mobile SDK); null unless the invoke carried one. */
  ClientContext getClientContext();

  /** Milliseconds left before the invocation's deadline. */
  int getRemainingTimeInMillis();

  /** The memory configured for the function, in MB. */
  int getMemoryLimitInMB();

  LambdaLogger getLogger();

  /** The tenant of a multi-tenant invoke; null otherwise. */
  default String getTenantId() {
    return null;
  }

  /** The X-Ray trace id of the invocation, when the request carried one. */
  default String getXrayTraceId() {
    return null;
  }
}

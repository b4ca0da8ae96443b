package dev.kiln;

/**
 * What a Java handler learns about its invocation, with AWS Lambda's method names so that
 * handlers written for Lambda's Context read the same:
 * {@code public Object handleRequest(Map<String, Object> event, Context context)}.
 */
public interface Context {
  String getAwsRequestId();

  String getFunctionName();

  String getFunctionVersion();

  String getInvokedFunctionArn();

  int getMemoryLimitInMB();

  int getRemainingTimeInMillis();

  String getLogGroupName();

  String getLogStreamName();
}

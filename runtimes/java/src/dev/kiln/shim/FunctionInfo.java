package dev.kiln.shim;

import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.Map;

/**
 * Which function this instance serves, from {@code POST /init} or, outside Kiln, from the
 * environment: the values its Context reports, and the API Gateway payload format its HTTP
 * requests become.
 */
final class FunctionInfo {
  final String name;
  final String version;
  final int memoryMb;
  /** "2.0" or "1.0" (SHIM-PROTOCOL §2). */
  final String eventFormat;
  final String arn;
  final String logGroup;
  final String logStream;

  FunctionInfo(String name, String version, int memoryMb, String eventFormat) {
    Map<String, String> env = System.getenv();
    this.name = name;
    this.version = version;
    this.memoryMb = memoryMb;
    this.eventFormat = eventFormat;
    String region = env.getOrDefault("AWS_REGION", env.getOrDefault("AWS_DEFAULT_REGION", "us-east-1"));
    this.arn = "arn:aws:lambda:" + region + ":" + ApiGatewayEvent.ACCOUNT_ID + ":function:" + name;
    this.logGroup = env.getOrDefault("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/" + name);
    this.logStream = env.getOrDefault("AWS_LAMBDA_LOG_STREAM_NAME",
        LocalDate.now(ZoneOffset.UTC).toString().replace('-', '/') + "/[" + version + "]" + instanceId(env));
  }

  private static String instanceId(Map<String, String> env) {
    String host = env.get("HOSTNAME");
    return host != null ? host : Long.toHexString(ProcessHandle.current().pid());
  }

  /** Outside Kiln: Lambda's own variables when the image runs elsewhere, else neutral defaults. */
  static FunctionInfo fromEnv() {
    Map<String, String> env = System.getenv();
    int memory;
    try {
      memory = Integer.parseInt(env.getOrDefault("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "0"));
    } catch (NumberFormatException e) {
      memory = 0;
    }
    return new FunctionInfo(
        env.getOrDefault("AWS_LAMBDA_FUNCTION_NAME", env.getOrDefault("KILN_FUNCTION", "function")),
        env.getOrDefault("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        memory,
        eventFormat(env.get("KILN_EVENT_FORMAT")));
  }

  /** "1.0" when asked for, else the default "2.0". */
  static String eventFormat(Object value) {
    return "1.0".equals(value) ? "1.0" : "2.0";
  }
}

import com.amazonaws.services.lambda.runtime.Context;
import java.util.Map;

/**
 * The async worker: invoked through POST /async/receipts/orders/<id>, it "sends" the receipt
 * (a log line) and answers. Every attempt of one invocation sees the same request id
 * (context.getAwsRequestId()), which a real sender would use to send each receipt once.
 */
public class Receipts {
  public Object handleRequest(Map<String, Object> event, Context context) {
    String path = String.valueOf(event.get("rawPath"));
    System.out.println("receipt for " + path + " (invocation " + context.getAwsRequestId() + ")");
    return Map.of("sent", path, "invocation", context.getAwsRequestId());
  }
}

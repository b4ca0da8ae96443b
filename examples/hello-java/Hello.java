import dev.kiln.Context;
import java.util.Map;

/** The plainest Java function: a class with handleRequest(event, context). */
public class Hello {
  public Object handleRequest(Map<String, Object> event, Context context) {
    @SuppressWarnings("unchecked")
    Map<String, Object> query = (Map<String, Object>) event.getOrDefault("queryStringParameters", Map.of());
    Object name = query.getOrDefault("name", "world");
    return "Hello, " + name + "! (java " + System.getProperty("java.version") + ", " + context.getFunctionName() + ")\n";
  }
}

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A Function<Map, Object>: echoes a JSON order and transforms it (totals, upper-cased
 * names). Kiln's shim parses the body for the handler only as the event's "body" string,
 * so the handler parses it with a tiny reader of its own, as a Lambda handler would.
 */
public class Orders implements Function<Map<String, Object>, Object> {
  @Override
  public Object apply(Map<String, Object> event) {
    String body = (String) event.getOrDefault("body", "{}");
    Map<String, Object> order = MiniJson.object(body);
    List<Object> lines = new ArrayList<>();
    double total = 0;
    for (Object o : (List<?>) order.getOrDefault("items", List.of())) {
      Map<?, ?> item = (Map<?, ?>) o;
      double price = ((Number) item.get("price")).doubleValue();
      long qty = ((Number) item.get("qty")).longValue();
      total += price * qty;
      Map<String, Object> line = new LinkedHashMap<>();
      line.put("name", String.valueOf(item.get("name")).toUpperCase());
      line.put("subtotal", price * qty);
      lines.add(line);
    }
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("echo", order);
    result.put("lines", lines);
    result.put("total", total);
    Map<String, Object> response = new LinkedHashMap<>();
    response.put("statusCode", 200);
    response.put("headers", Map.of("content-type", "application/json", "x-order-lines", String.valueOf(lines.size())));
    response.put("body", result);
    return response;
  }
}

import java.util.Map;

public class Hello {
  public Object handleRequest(Map<String, Object> event) {
    return "hello\n";
  }
}

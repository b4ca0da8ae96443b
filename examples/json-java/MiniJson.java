import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Just enough JSON reading for the example (objects, arrays, strings, numbers, booleans, null). */
final class MiniJson {
  private final String s;
  private int i;

  private MiniJson(String s) {
    this.s = s;
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> object(String text) {
    return (Map<String, Object>) new MiniJson(text).value();
  }

  private void ws() {
    while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
  }

  private Object value() {
    ws();
    char c = s.charAt(i);
    if (c == '{') {
      Map<String, Object> m = new LinkedHashMap<>();
      i++;
      ws();
      if (s.charAt(i) == '}') { i++; return m; }
      while (true) {
        ws();
        String k = (String) value();
        ws();
        i++; // ':'
        m.put(k, value());
        ws();
        if (s.charAt(i++) == '}') return m;
      }
    }
    if (c == '[') {
      List<Object> l = new ArrayList<>();
      i++;
      ws();
      if (s.charAt(i) == ']') { i++; return l; }
      while (true) {
        l.add(value());
        ws();
        if (s.charAt(i++) == ']') return l;
      }
    }
    if (c == '"') {
      int end = s.indexOf('"', ++i);
      String str = s.substring(i, end);
      i = end + 1;
      return str;
    }
    if (s.startsWith("true", i)) { i += 4; return true; }
    if (s.startsWith("false", i)) { i += 5; return false; }
    if (s.startsWith("null", i)) { i += 4; return null; }
    int start = i;
    while (i < s.length() && "-+.eE0123456789".indexOf(s.charAt(i)) >= 0) i++;
    String n = s.substring(start, i);
    return n.contains(".") || n.contains("e") || n.contains("E") ? (Object) Double.parseDouble(n) : (Object) Long.parseLong(n);
  }
}

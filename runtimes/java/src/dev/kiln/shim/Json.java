package dev.kiln.shim;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The shim's JSON codec, JDK only. A parsed value is a tree: objects are LinkedHashMap (key
 * order kept), arrays ArrayList, integers Integer, Long or BigInteger (the smallest that holds
 * them) and other numbers Double, as Jackson's untyped reader in Lambda's Java runtime gives
 * them. Writing takes trees and any other object: those go through {@link PojoWriter}, loaded
 * only when a handler returns one.
 */
public final class Json {
  /** Jackson's default nesting limit (StreamReadConstraints): deeper input is refused, not a stack overflow. */
  private static final int MAX_DEPTH = 1000;

  private final String text;
  private int pos;
  private int depth;

  private Json(String text) {
    this.text = text;
  }

  public static Object parse(byte[] utf8) {
    return parse(new String(utf8, StandardCharsets.UTF_8));
  }

  public static Object parse(String text) {
    Json p = new Json(text);
    p.skipSpace();
    Object value = p.value();
    p.skipSpace();
    if (p.pos != text.length()) throw p.error("unexpected text after the JSON value");
    return value;
  }

  private IllegalArgumentException error(String what) {
    return new IllegalArgumentException("invalid JSON at offset " + pos + ": " + what);
  }

  private void skipSpace() {
    while (pos < text.length()) {
      char c = text.charAt(pos);
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
      pos++;
    }
  }

  private Object value() {
    if (pos >= text.length()) throw error("unexpected end");
    char c = text.charAt(pos);
    switch (c) {
      case '{': return object();
      case '[': return array();
      case '"': return string();
      case 't': return literal("true", Boolean.TRUE);
      case 'f': return literal("false", Boolean.FALSE);
      case 'n': return literal("null", null);
      default: return number();
    }
  }

  private Object literal(String word, Object value) {
    if (!text.startsWith(word, pos)) throw error("expected " + word);
    pos += word.length();
    return value;
  }

  private void enter() {
    if (++depth > MAX_DEPTH) throw error("nested deeper than " + MAX_DEPTH + " levels");
  }

  private Map<String, Object> object() {
    enter();
    Map<String, Object> map = new LinkedHashMap<>();
    pos++;
    skipSpace();
    if (peek() == '}') {
      pos++;
      depth--;
      return map;
    }
    while (true) {
      skipSpace();
      if (peek() != '"') throw error("expected a string key");
      String key = string();
      skipSpace();
      if (peek() != ':') throw error("expected ':'");
      pos++;
      skipSpace();
      map.put(key, value());
      skipSpace();
      char c = peek();
      pos++;
      if (c == '}') {
        depth--;
        return map;
      }
      if (c != ',') throw error("expected ',' or '}'");
    }
  }

  private List<Object> array() {
    enter();
    List<Object> list = new ArrayList<>();
    pos++;
    skipSpace();
    if (peek() == ']') {
      pos++;
      depth--;
      return list;
    }
    while (true) {
      skipSpace();
      list.add(value());
      skipSpace();
      char c = peek();
      pos++;
      if (c == ']') {
        depth--;
        return list;
      }
      if (c != ',') throw error("expected ',' or ']'");
    }
  }

  private char peek() {
    if (pos >= text.length()) throw error("unexpected end");
    return text.charAt(pos);
  }

  private String string() {
    pos++;
    int start = pos;
    // Fast path: no escapes.
    while (pos < text.length()) {
      char c = text.charAt(pos);
      if (c == '"') return text.substring(start, pos++);
      if (c == '\\') break;
      if (c < 0x20) throw error("control character in a string");
      pos++;
    }
    StringBuilder sb = new StringBuilder(text.length() - start).append(text, start, pos);
    while (true) {
      char c = peek();
      pos++;
      if (c == '"') return sb.toString();
      if (c < 0x20) throw error("control character in a string");
      if (c != '\\') {
        sb.append(c);
        continue;
      }
      char e = peek();
      pos++;
      switch (e) {
        case '"': sb.append('"'); break;
        case '\\': sb.append('\\'); break;
        case '/': sb.append('/'); break;
        case 'b': sb.append('\b'); break;
        case 'f': sb.append('\f'); break;
        case 'n': sb.append('\n'); break;
        case 'r': sb.append('\r'); break;
        case 't': sb.append('\t'); break;
        case 'u':
          if (pos + 4 > text.length()) throw error("short \\u escape");
          try {
            sb.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
          } catch (NumberFormatException ex) {
            throw error("bad \\u escape");
          }
          pos += 4;
          break;
        default: throw error("bad escape \\" + e);
      }
    }
  }

  private Object number() {
    int start = pos;
    if (peek() == '-') pos++;
    int digits = pos;
    while (pos < text.length() && text.charAt(pos) >= '0' && text.charAt(pos) <= '9') pos++;
    if (pos == digits) throw error("expected a value");
    if (text.charAt(digits) == '0' && pos - digits > 1) throw error("leading zero in a number");
    boolean integral = true;
    if (pos < text.length() && text.charAt(pos) == '.') {
      integral = false;
      pos++;
      int frac = pos;
      while (pos < text.length() && text.charAt(pos) >= '0' && text.charAt(pos) <= '9') pos++;
      if (pos == frac) throw error("expected digits after '.'");
    }
    if (pos < text.length() && (text.charAt(pos) == 'e' || text.charAt(pos) == 'E')) {
      integral = false;
      pos++;
      if (pos < text.length() && (text.charAt(pos) == '+' || text.charAt(pos) == '-')) pos++;
      int exp = pos;
      while (pos < text.length() && text.charAt(pos) >= '0' && text.charAt(pos) <= '9') pos++;
      if (pos == exp) throw error("expected digits in the exponent");
    }
    String n = text.substring(start, pos);
    if (!integral) return Double.parseDouble(n);
    int len = n.length() - (n.charAt(0) == '-' ? 1 : 0);
    if (len <= 9) return Integer.parseInt(n);
    if (len <= 18) {
      long v = Long.parseLong(n);
      return v == (int) v ? (Object) (int) v : (Object) v;
    }
    BigInteger big = new BigInteger(n);
    return big.bitLength() < 64 ? (Object) big.longValue() : big;
  }

  /** The JSON text of any value: trees as they are, other objects as Lambda's serializer writes them. */
  public static String stringify(Object value) {
    StringBuilder sb = new StringBuilder();
    write(sb, value, 0);
    return sb.toString();
  }

  public static byte[] bytes(Object value) {
    return stringify(value).getBytes(StandardCharsets.UTF_8);
  }

  private static void write(StringBuilder sb, Object v, int depth) {
    if (depth > MAX_DEPTH) throw new IllegalStateException("the result nests deeper than " + MAX_DEPTH + " levels (a cycle?)");
    if (v == null) {
      sb.append("null");
    } else if (v instanceof String) {
      quote(sb, (String) v);
    } else if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte
        || v instanceof BigInteger || v instanceof Boolean) {
      sb.append(v);
    } else if (v instanceof Double || v instanceof Float) {
      double d = ((Number) v).doubleValue();
      // Jackson's WRITE_NAN_AS_STRINGS (on in Lambda's serializer): "NaN", "Infinity" as strings.
      if (Double.isNaN(d) || Double.isInfinite(d)) quote(sb, v.toString());
      else sb.append(v);
    } else if (v instanceof BigDecimal) {
      sb.append(v);
    } else if (v instanceof Map) {
      sb.append('{');
      Iterator<? extends Map.Entry<?, ?>> it = ((Map<?, ?>) v).entrySet().iterator();
      while (it.hasNext()) {
        Map.Entry<?, ?> e = it.next();
        Object key = e.getKey();
        quote(sb, key instanceof Enum ? ((Enum<?>) key).name() : String.valueOf(key));
        sb.append(':');
        write(sb, e.getValue(), depth + 1);
        if (it.hasNext()) sb.append(',');
      }
      sb.append('}');
    } else if (v instanceof Collection) {
      sb.append('[');
      Iterator<?> it = ((Collection<?>) v).iterator();
      while (it.hasNext()) {
        write(sb, it.next(), depth + 1);
        if (it.hasNext()) sb.append(',');
      }
      sb.append(']');
    } else {
      write(sb, PojoWriter.toTree(v), depth + 1);
    }
  }

  /**
   * The value as a tree (Map, List, String, Number, Boolean, null), for reading a result's
   * fields: maps and lists are copied, other objects serialized as Lambda's serializer would.
   */
  public static Object tree(Object v) {
    return tree(v, 0);
  }

  private static Object tree(Object v, int depth) {
    if (depth > MAX_DEPTH) throw new IllegalStateException("the result nests deeper than " + MAX_DEPTH + " levels (a cycle?)");
    if (v == null || v instanceof String || v instanceof Number || v instanceof Boolean) return v;
    if (v instanceof Map) {
      Map<String, Object> out = new LinkedHashMap<>();
      for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
        Object key = e.getKey();
        out.put(key instanceof Enum ? ((Enum<?>) key).name() : String.valueOf(key), tree(e.getValue(), depth + 1));
      }
      return out;
    }
    if (v instanceof Collection) {
      List<Object> out = new ArrayList<>(((Collection<?>) v).size());
      for (Object item : (Collection<?>) v) out.add(tree(item, depth + 1));
      return out;
    }
    return tree(PojoWriter.toTree(v), depth + 1);
  }

  static void quote(StringBuilder sb, String s) {
    sb.append('"');
    int last = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      sb.append(s, last, i);
      last = i + 1;
      switch (c) {
        case '"': sb.append("\\\""); break;
        case '\\': sb.append("\\\\"); break;
        case '\n': sb.append("\\n"); break;
        case '\r': sb.append("\\r"); break;
        case '\t': sb.append("\\t"); break;
        case '\b': sb.append("\\b"); break;
        case '\f': sb.append("\\f"); break;
        default:
          sb.append("\\u00").append(Character.forDigit(c >> 4, 16)).append(Character.forDigit(c & 15, 16));
      }
    }
    sb.append(s, last, s.length()).append('"');
  }
}

package dev.kiln.shim;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small JSON codec so the shim needs nothing beyond the JDK: objects become
 * LinkedHashMap (key order kept), arrays ArrayList, integers Long, other numbers Double.
 * Serializes Map, Iterable, arrays of objects, CharSequence, Number, Boolean and null;
 * anything else as its toString() string.
 */
public final class Json {
  private final String text;
  private int pos;

  private Json(String text) {
    this.text = text;
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
    return new IllegalArgumentException("invalid JSON at " + pos + ": " + what);
  }

  private void skipSpace() {
    while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) pos++;
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

  private Map<String, Object> object() {
    Map<String, Object> map = new LinkedHashMap<>();
    pos++;
    skipSpace();
    if (peek() == '}') {
      pos++;
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
      if (c == '}') return map;
      if (c != ',') throw error("expected ',' or '}'");
    }
  }

  private List<Object> array() {
    List<Object> list = new ArrayList<>();
    pos++;
    skipSpace();
    if (peek() == ']') {
      pos++;
      return list;
    }
    while (true) {
      skipSpace();
      list.add(value());
      skipSpace();
      char c = peek();
      pos++;
      if (c == ']') return list;
      if (c != ',') throw error("expected ',' or ']'");
    }
  }

  private char peek() {
    if (pos >= text.length()) throw error("unexpected end");
    return text.charAt(pos);
  }

  private String string() {
    StringBuilder sb = new StringBuilder();
    pos++;
    while (true) {
      char c = peek();
      pos++;
      if (c == '"') return sb.toString();
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
          sb.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
          pos += 4;
          break;
        default: throw error("bad escape \\" + e);
      }
    }
  }

  private Object number() {
    int start = pos;
    if (peek() == '-') pos++;
    while (pos < text.length() && "0123456789.eE+-".indexOf(text.charAt(pos)) >= 0) pos++;
    String n = text.substring(start, pos);
    if (n.isEmpty() || n.equals("-")) throw error("expected a value");
    try {
      if (n.indexOf('.') < 0 && n.indexOf('e') < 0 && n.indexOf('E') < 0) return Long.parseLong(n);
      return Double.parseDouble(n);
    } catch (NumberFormatException ex) {
      throw error("bad number " + n);
    }
  }

  public static String stringify(Object value) {
    StringBuilder sb = new StringBuilder();
    write(sb, value);
    return sb.toString();
  }

  private static void write(StringBuilder sb, Object v) {
    if (v == null) {
      sb.append("null");
    } else if (v instanceof CharSequence || v instanceof Character) {
      quote(sb, v.toString());
    } else if (v instanceof Double || v instanceof Float) {
      double d = ((Number) v).doubleValue();
      if (Double.isNaN(d) || Double.isInfinite(d)) sb.append("null");
      else if (d == Math.rint(d) && Math.abs(d) < 1e15) sb.append((long) d);
      else sb.append(d);
    } else if (v instanceof Number || v instanceof Boolean) {
      sb.append(v);
    } else if (v instanceof Map) {
      sb.append('{');
      Iterator<? extends Map.Entry<?, ?>> it = ((Map<?, ?>) v).entrySet().iterator();
      while (it.hasNext()) {
        Map.Entry<?, ?> e = it.next();
        quote(sb, String.valueOf(e.getKey()));
        sb.append(':');
        write(sb, e.getValue());
        if (it.hasNext()) sb.append(',');
      }
      sb.append('}');
    } else if (v instanceof Iterable) {
      sb.append('[');
      Iterator<?> it = ((Iterable<?>) v).iterator();
      while (it.hasNext()) {
        write(sb, it.next());
        if (it.hasNext()) sb.append(',');
      }
      sb.append(']');
    } else if (v instanceof Object[]) {
      write(sb, java.util.Arrays.asList((Object[]) v));
    } else {
      quote(sb, v.toString());
    }
  }

  private static void quote(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"': sb.append("\\\""); break;
        case '\\': sb.append("\\\\"); break;
        case '\n': sb.append("\\n"); break;
        case '\r': sb.append("\\r"); break;
        case '\t': sb.append("\\t"); break;
        default:
          if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
          else sb.append(c);
      }
    }
    sb.append('"');
  }
}

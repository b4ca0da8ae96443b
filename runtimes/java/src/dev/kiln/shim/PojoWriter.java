package dev.kiln.shim;

import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.RecordComponent;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Calendar;
import java.util.Date;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Turns a handler's result object into a JSON tree the way Lambda's Java runtime serializes it
 * (Jackson, configured by aws-lambda-java-serialization's JacksonFactory): bean getters
 * ({@code getX()}, and {@code isX()} for {@code boolean}) and public fields, named by the
 * JavaBeans rule ({@code getURL} → {@code URL}); null properties left out (NON_NULL); records by
 * their components; enums by name; {@code byte[]} as base64; {@code Optional} as its value;
 * {@code Date} as epoch milliseconds and java.time values as Jackson's JavaTimeModule writes
 * timestamps. Loaded only when a handler returns something that is not already a tree.
 */
final class PojoWriter {
  private PojoWriter() {}

  /** One readable property of a bean: a getter or a public field. */
  private static final class Property {
    final String name;
    final Method getter;
    final Field field;

    Property(String name, Method getter, Field field) {
      this.name = name;
      this.getter = getter;
      this.field = field;
    }

    Object read(Object bean) {
      try {
        return getter != null ? getter.invoke(bean) : field.get(bean);
      } catch (InvocationTargetException e) {
        Throwable cause = e.getCause();
        if (cause instanceof RuntimeException) throw (RuntimeException) cause;
        if (cause instanceof Error) throw (Error) cause;
        throw new IllegalStateException(cause);
      } catch (IllegalAccessException e) {
        throw new IllegalStateException("cannot read property " + name + ": " + e.getMessage(), e);
      }
    }
  }

  private static final ClassValue<List<Property>> SHAPES = new ClassValue<>() {
    @Override
    protected List<Property> computeValue(Class<?> type) {
      return type.isRecord() ? recordProperties(type) : beanProperties(type);
    }
  };

  static Object toTree(Object v) {
    if (v == null || v instanceof String || v instanceof Boolean) return v;
    if (v instanceof Number) return number((Number) v);
    if (v instanceof Character || v instanceof CharSequence) return v.toString();
    if (v instanceof Map || v instanceof java.util.Collection) return Json.tree(v);
    if (v instanceof byte[]) return Base64.getEncoder().encodeToString((byte[]) v);
    if (v instanceof char[]) return new String((char[]) v);
    if (v.getClass().isArray()) return array(v);
    if (v instanceof Iterable) return list(((Iterable<?>) v).iterator());
    if (v instanceof Iterator) return list((Iterator<?>) v);
    if (v instanceof Optional) return Json.tree(((Optional<?>) v).orElse(null));
    if (v instanceof Enum) return ((Enum<?>) v).name();
    if (v instanceof AtomicBoolean) return ((AtomicBoolean) v).get();
    if (v instanceof Date) return ((Date) v).getTime();
    if (v instanceof Calendar) return ((Calendar) v).getTimeInMillis();
    Object time = javaTime(v);
    if (time != null) return time;
    if (v instanceof Class) return ((Class<?>) v).getName();
    String pkg = v.getClass().getPackageName();
    if (pkg.startsWith("java.") || pkg.startsWith("javax.") || pkg.startsWith("jdk.") || pkg.startsWith("sun.")) {
      // JDK value types Jackson writes as strings: UUID, URI, URL, File, Path, Locale, Charset, ...
      return v.toString();
    }
    Map<String, Object> out = new LinkedHashMap<>();
    for (Property p : SHAPES.get(v.getClass())) {
      Object value = p.read(v);
      if (value != null) out.put(p.name, Json.tree(value));
    }
    return out;
  }

  /** Numbers Json writes itself pass through; others (AtomicLong, LongAdder, ...) by value. */
  private static Object number(Number n) {
    if (n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte
        || n instanceof Double || n instanceof Float || n instanceof BigDecimal || n instanceof java.math.BigInteger) {
      return n;
    }
    try {
      return new BigDecimal(n.toString());
    } catch (NumberFormatException e) {
      return n.doubleValue();
    }
  }

  private static List<Object> array(Object array) {
    int n = java.lang.reflect.Array.getLength(array);
    List<Object> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) out.add(Json.tree(java.lang.reflect.Array.get(array, i)));
    return out;
  }

  private static List<Object> list(Iterator<?> it) {
    List<Object> out = new ArrayList<>();
    while (it.hasNext()) out.add(Json.tree(it.next()));
    return out;
  }

  /** JavaTimeModule with WRITE_DATES_AS_TIMESTAMPS (Jackson's default): numbers and arrays. */
  private static Object javaTime(Object v) {
    if (v instanceof Instant) return seconds(((Instant) v).getEpochSecond(), ((Instant) v).getNano());
    if (v instanceof OffsetDateTime) return javaTime(((OffsetDateTime) v).toInstant());
    if (v instanceof ZonedDateTime) return javaTime(((ZonedDateTime) v).toInstant());
    if (v instanceof Duration) return seconds(((Duration) v).getSeconds(), ((Duration) v).getNano());
    if (v instanceof LocalDate) {
      LocalDate d = (LocalDate) v;
      return List.of(d.getYear(), d.getMonthValue(), d.getDayOfMonth());
    }
    if (v instanceof LocalDateTime) {
      LocalDateTime t = (LocalDateTime) v;
      List<Object> out = new ArrayList<>(List.of(t.getYear(), t.getMonthValue(), t.getDayOfMonth()));
      out.addAll(timeOfDay(t.toLocalTime()));
      return out;
    }
    if (v instanceof LocalTime) return timeOfDay((LocalTime) v);
    if (v.getClass().getPackageName().equals("java.time")) return v.toString();
    return null;
  }

  private static List<Object> timeOfDay(LocalTime t) {
    List<Object> out = new ArrayList<>(List.of(t.getHour(), t.getMinute()));
    if (t.getSecond() != 0 || t.getNano() != 0) out.add(t.getSecond());
    if (t.getNano() != 0) out.add(t.getNano());
    return out;
  }

  private static BigDecimal seconds(long seconds, int nanos) {
    return BigDecimal.valueOf(seconds).add(BigDecimal.valueOf(nanos, 9));
  }

  private static List<Property> recordProperties(Class<?> type) {
    List<Property> out = new ArrayList<>();
    for (RecordComponent c : type.getRecordComponents()) {
      Method accessor = c.getAccessor();
      if (accessible(accessor)) out.add(new Property(c.getName(), accessor, null));
    }
    return out;
  }

  /**
   * Jackson's property order: properties backed by a field in field order (superclass first),
   * then getter-only properties; a getter wins over a public field of the same name.
   */
  private static List<Property> beanProperties(Class<?> type) {
    List<Class<?>> chain = new ArrayList<>();
    for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) chain.add(0, c);
    Map<String, Property> byName = new LinkedHashMap<>();
    for (Class<?> c : chain) {
      for (Field f : c.getDeclaredFields()) {
        if (Modifier.isStatic(f.getModifiers()) || f.isSynthetic()) continue;
        boolean visible = Modifier.isPublic(f.getModifiers()) && !Modifier.isTransient(f.getModifiers());
        byName.put(f.getName(), visible && accessible(f) ? new Property(f.getName(), null, f) : null);
      }
    }
    for (Method m : getters(type)) {
      String name = propertyName(m);
      if (name != null && accessible(m)) byName.put(name, new Property(name, m, null));
    }
    List<Property> out = new ArrayList<>();
    for (Property p : byName.values()) if (p != null) out.add(p);
    return out;
  }

  /** Public getters in declaration order, subclass methods first (getMethods' order is unspecified). */
  private static List<Method> getters(Class<?> type) {
    List<Method> out = new ArrayList<>();
    java.util.Set<String> seen = new java.util.HashSet<>();
    for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
      for (Method m : c.getDeclaredMethods()) {
        if (Modifier.isPublic(m.getModifiers()) && !m.isBridge() && !m.isSynthetic() && seen.add(m.getName())) out.add(m);
      }
    }
    // Default methods of interfaces count too.
    for (Method m : type.getMethods()) {
      if (m.getDeclaringClass() != Object.class && !m.isBridge() && seen.add(m.getName())) out.add(m);
    }
    return out;
  }

  private static String propertyName(Method m) {
    if (Modifier.isStatic(m.getModifiers()) || m.getParameterCount() != 0) return null;
    String n = m.getName();
    Class<?> r = m.getReturnType();
    if (n.startsWith("get") && n.length() > 3 && r != void.class) return decapitalize(n.substring(3));
    if (n.startsWith("is") && n.length() > 2 && r == boolean.class) return decapitalize(n.substring(2));
    return null;
  }

  /** java.beans.Introspector's rule (Jackson's USE_STD_BEAN_NAMING, on in Lambda's serializer). */
  static String decapitalize(String name) {
    if (name.length() > 1 && Character.isUpperCase(name.charAt(1)) && Character.isUpperCase(name.charAt(0))) return name;
    return Character.toLowerCase(name.charAt(0)) + name.substring(1);
  }

  /** A user class that is not public still has its public members read, as Jackson does. */
  private static boolean accessible(java.lang.reflect.AccessibleObject member) {
    try {
      member.setAccessible(true);
      return true;
    } catch (RuntimeException e) {
      return member instanceof Method
          ? Modifier.isPublic(((Method) member).getDeclaringClass().getModifiers())
          : member instanceof Field && Modifier.isPublic(((Field) member).getDeclaringClass().getModifiers());
    }
  }
}

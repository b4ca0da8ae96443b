package dev.kiln.shim;

import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Date;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Converts a JSON tree (see {@link Json}) to the Java type a handler declares, the way Lambda's
 * Java runtime deserializes events (Jackson, as aws-lambda-java-serialization's JacksonFactory
 * configures it): POJOs through setters (any visibility) or public fields, records through
 * their canonical constructor, unknown properties ignored, scalars coerced (a number to a
 * String, "12" to an int), a single value accepted where an array is declared and a one-element
 * array where a single value is (ACCEPT_SINGLE_VALUE_AS_ARRAY, UNWRAP_SINGLE_VALUE_ARRAYS), ""
 * as null for objects, unknown enum names as null. Loaded only when a handler declares such a type.
 */
final class PojoReader {
  private PojoReader() {}

  /** Thrown when the tree cannot become the type; the caller reports it as Lambda does. */
  static final class MismatchException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    MismatchException(String message) {
      super(message);
    }
  }

  /** One writable property of a bean: a setter or a public field, and its declared type. */
  private static final class Property {
    final Method setter;
    final Field field;
    final Type type;

    Property(Method setter, Field field) {
      this.setter = setter;
      this.field = field;
      this.type = setter != null ? setter.getGenericParameterTypes()[0] : field.getGenericType();
    }
  }

  private static final class Shape {
    final Constructor<?> constructor;
    final Map<String, Property> properties;

    Shape(Constructor<?> constructor, Map<String, Property> properties) {
      this.constructor = constructor;
      this.properties = properties;
    }
  }

  private static final ClassValue<Shape> SHAPES = new ClassValue<>() {
    @Override
    protected Shape computeValue(Class<?> type) {
      return shape(type);
    }
  };

  static Object convert(Object node, Type type) {
    return convert(node, type, Map.of());
  }

  private static Object convert(Object node, Type type, Map<String, Type> bindings) {
    Type resolved = resolve(type, bindings);
    Class<?> raw = rawClass(resolved);
    if (raw == Object.class) return node;
    if (node == null) return raw.isPrimitive() ? primitiveDefault(raw) : null;
    if (raw == Optional.class) return Optional.ofNullable(convert(node, typeArgument(resolved, 0), bindings));
    Object known = knownValue(node, raw);
    if (known != null) return known;
    if (node instanceof List && !isArrayLike(raw)) {
      List<?> list = (List<?>) node;
      if (list.size() == 1) return convert(list.get(0), resolved, bindings);
      if (list.isEmpty() && !raw.isPrimitive()) return null;
      throw mismatch(raw, "an array");
    }
    if (raw == String.class || raw == CharSequence.class) return string(node, raw);
    if (raw.isPrimitive() || Number.class.isAssignableFrom(raw) || raw == Boolean.class || raw == Character.class) {
      return scalar(node, raw);
    }
    if (raw.isEnum()) return enumValue(node, raw);
    if (raw == byte[].class) return bytes(node);
    if (raw.isArray()) return array(node, raw.getComponentType(), componentType(resolved), bindings);
    if (Collection.class.isAssignableFrom(raw) || raw == Iterable.class) return collection(node, raw, resolved, bindings);
    if (Map.class.isAssignableFrom(raw)) return map(node, raw, resolved, bindings);
    if ("".equals(node)) return null;
    if (!(node instanceof Map)) throw mismatch(raw, describe(node));
    Map<String, Type> inner = bindingsOf(resolved, bindings);
    return raw.isRecord() ? record((Map<?, ?>) node, raw, inner) : bean((Map<?, ?>) node, raw, inner);
  }

  private static boolean isArrayLike(Class<?> raw) {
    return raw.isArray() || Collection.class.isAssignableFrom(raw) || raw == Iterable.class;
  }

  private static MismatchException mismatch(Class<?> type, String from) {
    return new MismatchException("Cannot deserialize value of type `" + type.getTypeName() + "` from " + from);
  }

  private static String describe(Object node) {
    if (node instanceof Map) return "Object value";
    if (node instanceof List) return "Array value";
    if (node instanceof String) return "String value \"" + node + "\"";
    if (node instanceof Boolean) return "Boolean value " + node;
    return "Number value " + node;
  }

  private static Object string(Object node, Class<?> raw) {
    if (node instanceof String) return node;
    if (node instanceof Number || node instanceof Boolean) return node.toString();
    throw mismatch(raw, describe(node));
  }

  private static Object primitiveDefault(Class<?> raw) {
    if (raw == boolean.class) return false;
    if (raw == char.class) return '\0';
    return scalar(0, raw);
  }

  private static Object scalar(Object node, Class<?> raw) {
    Class<?> box = box(raw);
    if (box == Boolean.class) {
      if (node instanceof Boolean) return node;
      if (node instanceof String && ("true".equals(node) || "false".equals(node))) return Boolean.valueOf((String) node);
      if (node instanceof Number) return ((Number) node).intValue() != 0;
      if ("".equals(node)) return raw.isPrimitive() ? false : null;
      throw mismatch(raw, describe(node));
    }
    if (box == Character.class) {
      if (node instanceof String && ((String) node).length() == 1) return ((String) node).charAt(0);
      if (node instanceof Integer) return (char) (int) (Integer) node;
      throw mismatch(raw, describe(node));
    }
    Number n;
    if (node instanceof Number) {
      n = (Number) node;
    } else if (node instanceof String) {
      String s = ((String) node).trim();
      if (s.isEmpty()) return raw.isPrimitive() ? primitiveDefault0(box) : null;
      try {
        n = new BigDecimal(s);
      } catch (NumberFormatException e) {
        throw mismatch(raw, describe(node) + ": not a valid number");
      }
    } else {
      throw mismatch(raw, describe(node));
    }
    if (box == Integer.class) return n.intValue();
    if (box == Long.class) return n.longValue();
    if (box == Double.class) return n.doubleValue();
    if (box == Float.class) return n.floatValue();
    if (box == Short.class) return n.shortValue();
    if (box == Byte.class) return n.byteValue();
    if (box == BigDecimal.class) return n instanceof BigDecimal ? n : new BigDecimal(n.toString());
    if (box == BigInteger.class) return n instanceof BigInteger ? n : new BigDecimal(n.toString()).toBigInteger();
    if (box == Number.class) return n;
    throw mismatch(raw, describe(node));
  }

  private static Object primitiveDefault0(Class<?> box) {
    return scalar(0, box);
  }

  private static Class<?> box(Class<?> raw) {
    if (!raw.isPrimitive()) return raw;
    if (raw == int.class) return Integer.class;
    if (raw == long.class) return Long.class;
    if (raw == double.class) return Double.class;
    if (raw == float.class) return Float.class;
    if (raw == boolean.class) return Boolean.class;
    if (raw == short.class) return Short.class;
    if (raw == byte.class) return Byte.class;
    return Character.class;
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static Object enumValue(Object node, Class<?> raw) {
    Object[] constants = raw.getEnumConstants();
    if (node instanceof Integer) {
      int i = (Integer) node;
      if (i >= 0 && i < constants.length) return constants[i];
      return null;
    }
    if (!(node instanceof String)) throw mismatch(raw, describe(node));
    for (Object c : constants) if (((Enum) c).name().equals(node)) return c;
    return null; // READ_UNKNOWN_ENUM_VALUES_AS_NULL
  }

  private static byte[] bytes(Object node) {
    if (node instanceof String) {
      try {
        return Base64.getMimeDecoder().decode((String) node);
      } catch (IllegalArgumentException e) {
        throw new MismatchException("Cannot deserialize value of type `byte[]` from String: not base64");
      }
    }
    if (node instanceof List) {
      List<?> list = (List<?>) node;
      byte[] out = new byte[list.size()];
      for (int i = 0; i < out.length; i++) out[i] = (Byte) scalar(list.get(i), byte.class);
      return out;
    }
    throw mismatch(byte[].class, describe(node));
  }

  private static Object array(Object node, Class<?> component, Type componentType, Map<String, Type> bindings) {
    if ("".equals(node)) return null;
    List<?> list = node instanceof List ? (List<?>) node : List.of(node);
    Object out = Array.newInstance(component, list.size());
    for (int i = 0; i < list.size(); i++) Array.set(out, i, convert(list.get(i), componentType, bindings));
    return out;
  }

  @SuppressWarnings("unchecked")
  private static Object collection(Object node, Class<?> raw, Type type, Map<String, Type> bindings) {
    if ("".equals(node)) return null;
    List<?> list = node instanceof List ? (List<?>) node : java.util.Collections.singletonList(node);
    Collection<Object> out = (Collection<Object>) newContainer(raw, list.size());
    Type element = typeArgument(type, 0);
    for (Object item : list) out.add(convert(item, element, bindings));
    return out;
  }

  @SuppressWarnings("unchecked")
  private static Object map(Object node, Class<?> raw, Type type, Map<String, Type> bindings) {
    if ("".equals(node)) return null;
    if (!(node instanceof Map)) throw mismatch(raw, describe(node));
    Type keyType = typeArgument(type, 0);
    Type valueType = typeArgument(type, 1);
    Class<?> keyClass = rawClass(resolve(keyType, bindings));
    boolean untyped = (keyClass == Object.class || keyClass == String.class)
        && rawClass(resolve(valueType, bindings)) == Object.class;
    if (untyped && raw.isInstance(node)) return node; // the tree's LinkedHashMap is already that map
    Map<Object, Object> out = (Map<Object, Object>) newContainer(raw, ((Map<?, ?>) node).size());
    for (Map.Entry<?, ?> e : ((Map<?, ?>) node).entrySet()) {
      out.put(convert(e.getKey(), keyType, bindings), convert(e.getValue(), valueType, bindings));
    }
    return out;
  }

  private static Object newContainer(Class<?> raw, int size) {
    if (!raw.isInterface() && !Modifier.isAbstract(raw.getModifiers())) {
      try {
        Constructor<?> c = raw.getDeclaredConstructor();
        c.setAccessible(true);
        return c.newInstance();
      } catch (ReflectiveOperationException | RuntimeException e) {
        throw new MismatchException("Cannot construct instance of `" + raw.getTypeName() + "`: " + e);
      }
    }
    if (raw.isAssignableFrom(ArrayList.class)) return new ArrayList<>(size);
    if (raw.isAssignableFrom(LinkedHashSet.class)) return new LinkedHashSet<>();
    if (raw.isAssignableFrom(TreeSet.class) || raw == SortedSet.class) return new TreeSet<>();
    if (raw.isAssignableFrom(LinkedHashMap.class)) return new LinkedHashMap<>();
    if (raw.isAssignableFrom(TreeMap.class) || raw == SortedMap.class) return new TreeMap<>();
    if (raw.isAssignableFrom(ConcurrentHashMap.class) || raw == ConcurrentMap.class) return new ConcurrentHashMap<>();
    if (raw.isAssignableFrom(HashMap.class)) return new HashMap<>();
    throw new MismatchException("Cannot construct instance of `" + raw.getTypeName() + "` (an abstract type)");
  }

  /** JDK value types Jackson reads from strings or numbers, java.time as JavaTimeModule does. */
  private static Object knownValue(Object node, Class<?> raw) {
    try {
      if (raw == UUID.class && node instanceof String) return UUID.fromString((String) node);
      if (raw == URI.class && node instanceof String) return URI.create((String) node);
      if (raw == Date.class) {
        if (node instanceof Number) return new Date(((Number) node).longValue());
        if (node instanceof String) return Date.from(instant((String) node));
      }
      if (raw == Instant.class) {
        if (node instanceof Number) return instantOfSeconds((Number) node);
        if (node instanceof String) return instant((String) node);
      }
      if (raw == Duration.class) {
        if (node instanceof Number) {
          Instant i = instantOfSeconds((Number) node);
          return Duration.ofSeconds(i.getEpochSecond(), i.getNano());
        }
        if (node instanceof String) return Duration.parse((String) node);
      }
      if (node instanceof String) {
        String s = (String) node;
        if (raw == LocalDate.class) return LocalDate.parse(s);
        if (raw == LocalDateTime.class) return LocalDateTime.parse(s);
        if (raw == LocalTime.class) return LocalTime.parse(s);
        if (raw == OffsetDateTime.class) return OffsetDateTime.parse(s);
        if (raw == ZonedDateTime.class) return ZonedDateTime.parse(s);
      }
      if (node instanceof List && raw == LocalDate.class) {
        List<?> l = (List<?>) node;
        return LocalDate.of(intAt(l, 0), intAt(l, 1), intAt(l, 2));
      }
      if (node instanceof Number && (raw == OffsetDateTime.class || raw == ZonedDateTime.class)) {
        OffsetDateTime t = instantOfSeconds((Number) node).atOffset(ZoneOffset.UTC);
        return raw == OffsetDateTime.class ? t : t.toZonedDateTime();
      }
    } catch (RuntimeException e) {
      throw new MismatchException("Cannot deserialize value of type `" + raw.getTypeName() + "` from " + describe(node) + ": " + e.getMessage());
    }
    return null;
  }

  private static int intAt(List<?> l, int i) {
    return ((Number) l.get(i)).intValue();
  }

  private static Instant instant(String s) {
    try {
      return Instant.parse(s);
    } catch (RuntimeException e) {
      return OffsetDateTime.parse(s).toInstant();
    }
  }

  private static Instant instantOfSeconds(Number n) {
    BigDecimal d = new BigDecimal(n.toString());
    long seconds = d.longValue();
    int nanos = d.subtract(BigDecimal.valueOf(seconds)).movePointRight(9).intValue();
    return Instant.ofEpochSecond(seconds, nanos);
  }

  private static Object record(Map<?, ?> node, Class<?> raw, Map<String, Type> bindings) {
    RecordComponent[] components = raw.getRecordComponents();
    Class<?>[] types = new Class<?>[components.length];
    Object[] args = new Object[components.length];
    for (int i = 0; i < components.length; i++) {
      types[i] = components[i].getType();
      args[i] = convert(node.get(components[i].getName()), components[i].getGenericType(), bindings);
    }
    try {
      Constructor<?> c = raw.getDeclaredConstructor(types);
      c.setAccessible(true);
      return c.newInstance(args);
    } catch (InvocationTargetException e) {
      throw new MismatchException("Cannot construct instance of `" + raw.getTypeName() + "`: " + e.getCause());
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new MismatchException("Cannot construct instance of `" + raw.getTypeName() + "`: " + e);
    }
  }

  private static Object bean(Map<?, ?> node, Class<?> raw, Map<String, Type> bindings) {
    Shape shape = SHAPES.get(raw);
    Object bean;
    try {
      bean = shape.constructor.newInstance();
    } catch (InvocationTargetException e) {
      throw new MismatchException("Cannot construct instance of `" + raw.getTypeName() + "`: " + e.getCause());
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new MismatchException("Cannot construct instance of `" + raw.getTypeName() + "`: " + e);
    }
    for (Map.Entry<?, ?> e : node.entrySet()) {
      Property p = shape.properties.get(String.valueOf(e.getKey()));
      if (p == null) continue; // FAIL_ON_UNKNOWN_PROPERTIES is off in Lambda's serializer
      Object value = convert(e.getValue(), p.type, bindings);
      try {
        if (p.setter != null) p.setter.invoke(bean, value);
        else p.field.set(bean, value);
      } catch (InvocationTargetException ex) {
        throw new MismatchException("setting property \"" + e.getKey() + "\" of `" + raw.getTypeName() + "` failed: " + ex.getCause());
      } catch (IllegalAccessException | RuntimeException ex) {
        throw new MismatchException("setting property \"" + e.getKey() + "\" of `" + raw.getTypeName() + "` failed: " + ex);
      }
    }
    return bean;
  }

  private static Shape shape(Class<?> raw) {
    if (raw.isInterface() || Modifier.isAbstract(raw.getModifiers())) {
      throw new MismatchException("Cannot construct instance of `" + raw.getTypeName()
          + "` (abstract types either need to be mapped to concrete types, have custom deserializer, or contain additional type information)");
    }
    if (raw.getEnclosingClass() != null && !Modifier.isStatic(raw.getModifiers())) {
      throw new MismatchException("Cannot construct instance of `" + raw.getTypeName() + "`: a non-static inner class");
    }
    Constructor<?> constructor;
    try {
      constructor = raw.getDeclaredConstructor();
      constructor.setAccessible(true);
    } catch (NoSuchMethodException | RuntimeException e) {
      throw new MismatchException("Cannot construct instance of `" + raw.getTypeName()
          + "` (no Creators, like default constructor, exist)");
    }
    Map<String, Property> properties = new HashMap<>();
    List<Class<?>> chain = new ArrayList<>();
    for (Class<?> c = raw; c != null && c != Object.class; c = c.getSuperclass()) chain.add(0, c);
    for (Class<?> c : chain) {
      for (Field f : c.getDeclaredFields()) {
        int mod = f.getModifiers();
        if (!Modifier.isPublic(mod) || Modifier.isStatic(mod) || Modifier.isTransient(mod)) continue;
        try {
          f.setAccessible(true); // final public fields too (ALLOW_FINAL_FIELDS_AS_MUTATORS)
          properties.put(f.getName(), new Property(null, f));
        } catch (RuntimeException e) {
          // not settable: skip it
        }
      }
    }
    Set<String> fromSetters = new java.util.HashSet<>();
    for (Class<?> c : chain) {
      for (Method m : c.getDeclaredMethods()) {
        String n = m.getName();
        if (Modifier.isStatic(m.getModifiers()) || m.getParameterCount() != 1 || !n.startsWith("set") || n.length() == 3
            || m.isBridge()) {
          continue;
        }
        String name = PojoWriter.decapitalize(n.substring(3));
        Property existing = properties.get(name);
        // Of overloaded setters, the subclass's and the one taking a non-Object type win.
        if (existing != null && existing.setter != null && fromSetters.contains(name)
            && m.getParameterTypes()[0] == Object.class) {
          continue;
        }
        try {
          m.setAccessible(true);
          properties.put(name, new Property(m, null));
          fromSetters.add(name);
        } catch (RuntimeException e) {
          // not settable: skip it
        }
      }
    }
    return new Shape(constructor, properties);
  }

  // --- generic types -----------------------------------------------------------------

  static Class<?> rawClass(Type type) {
    if (type instanceof Class) return (Class<?>) type;
    if (type instanceof ParameterizedType) return (Class<?>) ((ParameterizedType) type).getRawType();
    if (type instanceof GenericArrayType) {
      return Array.newInstance(rawClass(((GenericArrayType) type).getGenericComponentType()), 0).getClass();
    }
    if (type instanceof WildcardType) return rawClass(((WildcardType) type).getUpperBounds()[0]);
    if (type instanceof TypeVariable) {
      Type[] bounds = ((TypeVariable<?>) type).getBounds();
      return bounds.length > 0 ? rawClass(bounds[0]) : Object.class;
    }
    return Object.class;
  }

  private static Type resolve(Type type, Map<String, Type> bindings) {
    if (type instanceof TypeVariable && bindings.containsKey(((TypeVariable<?>) type).getName())) {
      return bindings.get(((TypeVariable<?>) type).getName());
    }
    if (type instanceof WildcardType) return resolve(((WildcardType) type).getUpperBounds()[0], bindings);
    return type;
  }

  private static Type typeArgument(Type type, int i) {
    if (type instanceof ParameterizedType) {
      Type[] args = ((ParameterizedType) type).getActualTypeArguments();
      if (i < args.length) return args[i];
    }
    return Object.class;
  }

  private static Type componentType(Type type) {
    if (type instanceof GenericArrayType) return ((GenericArrayType) type).getGenericComponentType();
    return rawClass(type).getComponentType();
  }

  /**
   * The type variables of a class bound to the arguments of its parameterized type, and those
   * of its superclasses bound through their declarations ({@code class Page extends Box<Item>}).
   * Keyed by name: a simplification that holds unless a subclass reuses a superclass's name.
   */
  private static Map<String, Type> bindingsOf(Type type, Map<String, Type> outer) {
    Map<String, Type> out = new HashMap<>();
    Class<?> raw = rawClass(type);
    if (type instanceof ParameterizedType) {
      TypeVariable<?>[] vars = raw.getTypeParameters();
      Type[] args = ((ParameterizedType) type).getActualTypeArguments();
      for (int i = 0; i < vars.length && i < args.length; i++) out.put(vars[i].getName(), resolve(args[i], outer));
    }
    for (Class<?> c = raw; c != null && c != Object.class; c = c.getSuperclass()) {
      Type sup = c.getGenericSuperclass();
      if (!(sup instanceof ParameterizedType)) continue;
      TypeVariable<?>[] vars = rawClass(sup).getTypeParameters();
      Type[] args = ((ParameterizedType) sup).getActualTypeArguments();
      for (int i = 0; i < vars.length && i < args.length; i++) out.putIfAbsent(vars[i].getName(), resolve(args[i], out));
    }
    return out;
  }
}

package dev.kiln.shim;

import com.amazonaws.services.lambda.runtime.CustomPojoSerializer;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.File;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.function.Function;

/**
 * Finds a handler from its string, with Lambda's Java runtime's rules
 * (aws-lambda-java-runtime-interface-client's HandlerInfo and EventHandlerLoader):
 * {@code package.Class::method} picks the public overload of that name with the best handler
 * signature; {@code package.Class} needs a class implementing RequestStreamHandler or
 * RequestHandler<I,O>. Kiln also keeps its own forms for a bare class: a
 * {@code Function<I,O>}, or a public {@code handleRequest} method on any class. The class is
 * loaded (static initializers run) and instantiated once, at init.
 */
final class HandlerLoader {
  private HandlerLoader() {}

  /** A loaded handler and the class loader of the function's code. */
  static final class Loaded {
    final Handler handler;
    final ClassLoader loader;

    Loaded(Handler handler, ClassLoader loader) {
      this.handler = handler;
      this.loader = loader;
    }
  }

  /**
   * The function's class loader: parent-first, as Lambda's runtime loads aws-lambda-java-core
   * from its own class path, so the shim and the function share one Context type; except for
   * aws-lambda-java-events' package, where a copy the function ships (in a fat jar or lib/)
   * wins over the few event classes the shim carries.
   */
  static final class FunctionLoader extends URLClassLoader {
    private static final String EVENTS = "com.amazonaws.services.lambda.runtime.events.";

    static {
      ClassLoader.registerAsParallelCapable();
    }

    FunctionLoader(URL[] urls, ClassLoader parent) {
      super(urls, parent);
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
      if (!name.startsWith(EVENTS)) return super.loadClass(name, resolve);
      synchronized (getClassLoadingLock(name)) {
        Class<?> c = findLoadedClass(name);
        if (c == null) {
          try {
            c = findClass(name);
          } catch (ClassNotFoundException e) {
            c = getParent().loadClass(name);
          }
        }
        if (resolve) resolveClass(c);
        return c;
      }
    }
  }

  static Loaded load(String codeDir, String spec) throws ShimError {
    int sep = spec.lastIndexOf("::");
    String className = sep < 0 ? spec.trim() : spec.substring(0, sep).trim();
    String methodName = sep < 0 ? null : spec.substring(sep + 2).trim();
    if (className.isEmpty() || methodName != null && methodName.isEmpty()) {
      throw new ShimError(400, "handler_not_found", "invalid handler \"" + spec + "\": name it package.Class or package.Class::method");
    }
    ClassLoader loader = new FunctionLoader(classpath(codeDir), HandlerLoader.class.getClassLoader());
    Thread.currentThread().setContextClassLoader(loader);
    Class<?> cls;
    try {
      cls = Class.forName(className, true, loader);
    } catch (ClassNotFoundException e) {
      throw new ShimError(400, "handler_not_found", "class " + className + " not found in " + codeDir);
    } catch (LinkageError e) {
      Throwable cause = e instanceof ExceptionInInitializerError && e.getCause() != null ? e.getCause() : e;
      throw new ShimError(400, "handler_load_failed", "Error loading class " + className + ": " + LambdaError.logText(cause).trim());
    }
    Handler handler = methodName != null ? byMethod(cls, methodName) : byClass(cls);
    if (handler instanceof PojoHandler) {
      CustomPojoSerializer serializer = customSerializer(loader);
      if (serializer != null) ((PojoHandler) handler).useSerializer(serializer);
    }
    return new Loaded(handler, loader);
  }

  /**
   * The function's own CustomPojoSerializer, as Lambda's runtime finds it: the first
   * {@code META-INF/services} provider in the function's code; null when it ships none.
   */
  private static CustomPojoSerializer customSerializer(ClassLoader loader) throws ShimError {
    // One resource lookup first: ServiceLoader's machinery costs the cold start of every
    // function, and almost none ship a serializer.
    if (loader.getResource("META-INF/services/" + CustomPojoSerializer.class.getName()) == null) return null;
    try {
      return ServiceLoader.load(CustomPojoSerializer.class, loader).findFirst().orElse(null);
    } catch (ServiceConfigurationError e) {
      throw new ShimError(400, "handler_load_failed", "Error loading the CustomPojoSerializer: " + e.getMessage());
    }
  }

  private static Handler byClass(Class<?> cls) throws ShimError {
    if (RequestStreamHandler.class.isAssignableFrom(cls)) return new StreamHandler(instance(cls), null, true, true, true);
    if (RequestHandler.class.isAssignableFrom(cls)) {
      Type[] types = typeArguments(cls, RequestHandler.class);
      if (types == null || types.length != 2) {
        throw new ShimError(400, "handler_load_failed",
            "Class " + cls.getName() + " does not implement RequestHandler with concrete type parameters");
      }
      return new PojoHandler(PojoHandler.Kind.REQUEST_HANDLER, instance(cls), null, concrete(types[0]), false, isVoid(types[1]), types[1]);
    }
    if (Function.class.isAssignableFrom(cls)) {
      Type[] types = typeArguments(cls, Function.class);
      Type in = types == null ? Object.class : concrete(types[0]);
      return new PojoHandler(PojoHandler.Kind.FUNCTION, instance(cls), null, in, false, false,
          types == null ? Object.class : types[1]);
    }
    Handler h = findMethod(cls, "handleRequest");
    if (h == null) {
      throw new ShimError(400, "handler_not_found", "class " + cls.getName()
          + " has no public method handleRequest and implements neither RequestHandler nor RequestStreamHandler"
          + " (or name the method: " + cls.getName() + "::method)");
    }
    return h;
  }

  private static Handler byMethod(Class<?> cls, String name) throws ShimError {
    Handler h = findMethod(cls, name);
    if (h == null) {
      throw new ShimError(400, "handler_not_found", "class " + cls.getName() + " has no public method " + name
          + " with a handler signature: (event), (event, Context), (InputStream, OutputStream, Context), ...");
    }
    return h;
  }

  /**
   * Lambda's overload choice: non-bridge methods first, then longer signatures, a trailing
   * Context counting one more; the first with a signature Lambda supports wins.
   */
  private static Handler findMethod(Class<?> cls, String name) throws ShimError {
    List<Method> candidates = new ArrayList<>();
    for (Method m : cls.getMethods()) if (m.getName().equals(name)) candidates.add(m);
    candidates.sort(PRIORITY);
    for (Method m : candidates) {
      Handler h = fromSignature(cls, m);
      if (h != null) return h;
    }
    return null;
  }

  /** An anonymous class, not a lambda: a lambda's first use costs the JVM a bootstrap at cold start. */
  private static final java.util.Comparator<Method> PRIORITY = new java.util.Comparator<Method>() {
    @Override
    public int compare(Method a, Method b) {
      if (a.isBridge() != b.isBridge()) return a.isBridge() ? 1 : -1;
      return Integer.compare(weight(b), weight(a));
    }
  };

  private static int weight(Method m) {
    Class<?>[] p = m.getParameterTypes();
    return p.length + (p.length > 0 && PojoHandler.isContext(p[p.length - 1]) ? 1 : 0);
  }

  /** The signatures EventHandlerLoader supports, or null for one it ignores. */
  private static Handler fromSignature(Class<?> cls, Method m) throws ShimError {
    Type[] p = m.getGenericParameterTypes();
    boolean isVoid = m.getReturnType() == void.class || m.getReturnType() == Void.class;
    switch (p.length) {
      case 0:
        return pojo(cls, m, null, false, isVoid);
      case 1:
        if (p[0] == InputStream.class) return stream(cls, m, true, false, false);
        if (p[0] == OutputStream.class) return stream(cls, m, false, true, false);
        if (PojoHandler.isContext(p[0])) return pojo(cls, m, null, true, isVoid);
        return pojo(cls, m, p[0], false, isVoid);
      case 2:
        if (p[0] == OutputStream.class) return PojoHandler.isContext(p[1]) ? stream(cls, m, false, true, true) : null;
        if (PojoHandler.isContext(p[0])) return null;
        if (p[0] == InputStream.class) {
          if (p[1] == OutputStream.class) return stream(cls, m, true, true, false);
          return PojoHandler.isContext(p[1]) ? stream(cls, m, true, false, true) : null;
        }
        return PojoHandler.isContext(p[1]) ? pojo(cls, m, p[0], true, isVoid) : null;
      case 3:
        boolean streams = p[0] == InputStream.class && p[1] == OutputStream.class && PojoHandler.isContext(p[2]);
        return streams ? stream(cls, m, true, true, true) : null;
      default:
        return null;
    }
  }

  private static Handler pojo(Class<?> cls, Method m, Type input, boolean ctx, boolean isVoid) throws ShimError {
    return new PojoHandler(PojoHandler.Kind.METHOD, target(cls, m), accessible(m), input == null ? null : concrete(input), ctx, isVoid,
        m.getGenericReturnType());
  }

  private static Handler stream(Class<?> cls, Method m, boolean in, boolean out, boolean ctx) throws ShimError {
    return new StreamHandler(target(cls, m), accessible(m), in, out, ctx);
  }

  private static Object target(Class<?> cls, Method m) throws ShimError {
    return Modifier.isStatic(m.getModifiers()) ? null : instance(cls);
  }

  /** A public method of a class that is not public is still callable, as on Lambda. */
  private static Method accessible(Method m) {
    try {
      m.setAccessible(true);
    } catch (RuntimeException e) {
      // a public method of a public class needs nothing more
    }
    return m;
  }

  private static Object instance(Class<?> cls) throws ShimError {
    if (cls.getEnclosingClass() != null && !Modifier.isStatic(cls.getModifiers())) {
      throw new ShimError(400, "handler_load_failed", "Class " + cls.getName() + " cannot be instantiated because it is a non-static inner class");
    }
    Constructor<?> c;
    try {
      c = cls.getDeclaredConstructor();
      c.setAccessible(true);
    } catch (NoSuchMethodException | RuntimeException e) {
      throw new ShimError(400, "handler_load_failed", "Class " + cls.getName() + " has no public zero-argument constructor");
    }
    try {
      return c.newInstance();
    } catch (InvocationTargetException e) {
      throw new ShimError(400, "handler_load_failed", "constructing " + cls.getName() + " failed: " + LambdaError.logText(e.getCause()).trim());
    } catch (ReflectiveOperationException e) {
      throw new ShimError(400, "handler_load_failed", "constructing " + cls.getName() + " failed: " + e);
    }
  }

  private static boolean isVoid(Type t) {
    return t == Void.class || t == void.class;
  }

  /** A type variable left unbound stands for its bound (Object when it has none). */
  private static Type concrete(Type t) {
    return t instanceof TypeVariable ? PojoReader.rawClass(t) : t;
  }

  /**
   * The type arguments {@code cls} gives {@code iface}, found by walking its superclasses and
   * interfaces and resolving type variables on the way (EventHandlerLoader.findInterfaceParameters).
   */
  static Type[] typeArguments(Class<?> cls, Class<?> iface) {
    return typeArguments(cls, iface, new HashMap<>());
  }

  private static Type[] typeArguments(Type type, Class<?> iface, Map<TypeVariable<?>, Type> bindings) {
    Class<?> raw = PojoReader.rawClass(type);
    Map<TypeVariable<?>, Type> mine = new HashMap<>();
    if (type instanceof ParameterizedType) {
      TypeVariable<?>[] vars = raw.getTypeParameters();
      Type[] args = ((ParameterizedType) type).getActualTypeArguments();
      for (int i = 0; i < vars.length && i < args.length; i++) mine.put(vars[i], bound(args[i], bindings));
    }
    if (raw == iface) {
      if (!(type instanceof ParameterizedType)) return null;
      Type[] args = ((ParameterizedType) type).getActualTypeArguments().clone();
      for (int i = 0; i < args.length; i++) args[i] = bound(args[i], bindings);
      return args;
    }
    List<Type> supers = new ArrayList<>(Arrays.asList(raw.getGenericInterfaces()));
    if (raw.getGenericSuperclass() != null) supers.add(raw.getGenericSuperclass());
    for (Type s : supers) {
      if (!iface.isAssignableFrom(PojoReader.rawClass(s))) continue;
      Type[] found = typeArguments(s, iface, mine);
      if (found != null) return found;
    }
    return null;
  }

  private static Type bound(Type t, Map<TypeVariable<?>, Type> bindings) {
    return t instanceof TypeVariable && bindings.containsKey(t) ? bindings.get(t) : t;
  }

  /** Lambda's task root layout: classes at the root or in classes/, jars at the root or in lib/. */
  private static URL[] classpath(String codeDir) {
    List<URL> urls = new ArrayList<>();
    try {
      // Lambda puts the code dir and its lib/*.jar on the class path. Kiln compiles sources into
      // classes/ (first), and adds a Maven layout's src/main/resources (its META-INF/services,
      // properties, ...), which a Maven build would have packed into the jar.
      File root = new File(codeDir);
      File classes = new File(root, "classes");
      if (classes.isDirectory()) urls.add(classes.toURI().toURL());
      urls.add(root.toURI().toURL());
      File resources = new File(root, "src/main/resources");
      if (resources.isDirectory()) urls.add(resources.toURI().toURL());
      for (File dir : new File[] {root, new File(root, "lib")}) {
        File[] jars = dir.listFiles();
        if (jars == null) continue;
        Arrays.sort(jars);
        for (File jar : jars) if (jar.getName().endsWith(".jar")) urls.add(jar.toURI().toURL());
      }
    } catch (MalformedURLException e) {
      throw new IllegalStateException(e);
    }
    return urls.toArray(new URL[0]);
  }
}

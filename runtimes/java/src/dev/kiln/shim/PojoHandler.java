package dev.kiln.shim;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.CustomPojoSerializer;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.util.Map;
import java.util.function.Function;

/**
 * A handler of objects: {@code RequestHandler<I,O>}, a public method {@code (I)}, {@code (I,
 * Context)}, {@code (Context)} or {@code ()}, or Kiln's {@code Function<I,O>}. The event is
 * converted to I, and the result is the output value (a void method's is null).
 */
final class PojoHandler extends Handler {
  enum Kind { REQUEST_HANDLER, FUNCTION, METHOD }

  private final Kind kind;
  private final Object target;
  private final Method method;
  /** The declared input type, or null when the handler takes no event. */
  private final Type input;
  private final boolean wantsContext;
  private final boolean returnsVoid;
  /** The declared result type, for a custom serializer. */
  private final Type output;
  /** The function's CustomPojoSerializer, or null for Kiln's reader and writer. */
  private CustomPojoSerializer serializer;

  PojoHandler(Kind kind, Object target, Method method, Type input, boolean wantsContext, boolean returnsVoid, Type output) {
    this.kind = kind;
    this.target = target;
    this.method = method;
    this.input = input;
    this.wantsContext = wantsContext;
    this.returnsVoid = returnsVoid;
    this.output = output;
  }

  /** Events and results go through the function's own serializer (Lambda's rule when it ships one). */
  void useSerializer(CustomPojoSerializer serializer) {
    this.serializer = serializer;
  }

  @Override
  @SuppressWarnings("unchecked")
  Output call(Event event, LambdaContext context) throws Throwable {
    Object in = null;
    if (input != null && serializer != null) {
      in = serializer.fromJson(new ByteArrayInputStream(event.json()), input);
    } else if (input != null) {
      try {
        in = convert(event.tree(), input);
      } catch (RuntimeException e) {
        throw parseError(e);
      }
    }
    Object result;
    switch (kind) {
      case REQUEST_HANDLER:
        result = ((RequestHandler<Object, Object>) target).handleRequest(in, context);
        break;
      case FUNCTION:
        result = ((Function<Object, Object>) target).apply(in);
        break;
      default:
        Object[] args = new Object[(input != null ? 1 : 0) + (wantsContext ? 1 : 0)];
        if (input != null) args[0] = in;
        if (wantsContext) args[args.length - 1] = context;
        try {
          result = method.invoke(target, args);
        } catch (InvocationTargetException e) {
          throw e.getCause();
        }
    }
    if (returnsVoid) return Output.of(null);
    if (serializer != null && !(result instanceof byte[]) && !(result instanceof InputStream)) {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      serializer.toJson(result, bytes, output);
      return Output.bytes(bytes.toByteArray());
    }
    return Output.of(result);
  }

  /** Trees pass as they are to Object, untyped Map and String inputs; the rest goes through PojoReader. */
  private static Object convert(Object tree, Type type) {
    if (type == Object.class) return tree;
    if (tree instanceof Map && isUntypedMap(type)) return tree;
    if (tree instanceof String && type == String.class) return tree;
    return PojoReader.convert(tree, type);
  }

  private static boolean isUntypedMap(Type type) {
    if (type == Map.class) return true;
    if (!(type instanceof ParameterizedType) || ((ParameterizedType) type).getRawType() != Map.class) return false;
    Type[] args = ((ParameterizedType) type).getActualTypeArguments();
    return (args[0] == String.class || args[0] == Object.class) && args[1] == Object.class;
  }

  static boolean isContext(Type t) {
    return t == Context.class || t == dev.kiln.Context.class;
  }
}

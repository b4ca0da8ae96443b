package com.amazonaws.services.lambda.runtime;

import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Type;

/**
 * A function's own serializer for the events and results of its POJO handlers, found with
 * {@link java.util.ServiceLoader} in the function's code
 * ({@code META-INF/services/com.amazonaws.services.lambda.runtime.CustomPojoSerializer}), as
 * AWS documents it ("Customize serialization for Lambda Java functions").
 */
public interface CustomPojoSerializer {
  <T> T fromJson(InputStream input, Type type);

  <T> T fromJson(String input, Type type);

  <T> void toJson(T value, OutputStream output, Type type);
}

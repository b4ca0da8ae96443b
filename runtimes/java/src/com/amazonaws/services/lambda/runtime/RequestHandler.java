package com.amazonaws.services.lambda.runtime;

/**
 * A handler of plain Java objects: the event is converted to {@code I} the way Lambda's
 * serializer does, and the returned {@code O} is serialized back (aws-lambda-java-core's interface).
 *
 * @param <I> the input type
 * @param <O> the output type
 */
public interface RequestHandler<I, O> {
  O handleRequest(I input, Context context);
}

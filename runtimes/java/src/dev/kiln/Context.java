package dev.kiln;

/**
 * The Context of Kiln's first Java API, kept so handlers written against it still compile and
 * run: it is AWS Lambda's {@link com.amazonaws.services.lambda.runtime.Context}, which new code
 * should use directly.
 */
public interface Context extends com.amazonaws.services.lambda.runtime.Context {}

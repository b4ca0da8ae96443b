package com.amazonaws.services.lambda.runtime.events;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A response for an HTTP API's Lambda integration, payload format 2.0: Kiln's implementation of
 * aws-lambda-java-events' class of this name.
 */
public class APIGatewayV2HTTPResponse {
  private int statusCode;
  private Map<String, String> headers;
  private Map<String, List<String>> multiValueHeaders;
  private List<String> cookies;
  private String body;
  private boolean isBase64Encoded;

  public APIGatewayV2HTTPResponse() {}

  public APIGatewayV2HTTPResponse(
      int statusCode,
      Map<String, String> headers,
      Map<String, List<String>> multiValueHeaders,
      List<String> cookies,
      String body,
      boolean isBase64Encoded) {
    this.statusCode = statusCode;
    this.headers = headers;
    this.multiValueHeaders = multiValueHeaders;
    this.cookies = cookies;
    this.body = body;
    this.isBase64Encoded = isBase64Encoded;
  }

  public static APIGatewayV2HTTPResponseBuilder builder() {
    return new APIGatewayV2HTTPResponseBuilder();
  }

  public int getStatusCode() {
    return statusCode;
  }

  public void setStatusCode(int statusCode) {
    this.statusCode = statusCode;
  }

  public Map<String, String> getHeaders() {
    return headers;
  }

  public void setHeaders(Map<String, String> headers) {
    this.headers = headers;
  }

  public Map<String, List<String>> getMultiValueHeaders() {
    return multiValueHeaders;
  }

  public void setMultiValueHeaders(Map<String, List<String>> multiValueHeaders) {
    this.multiValueHeaders = multiValueHeaders;
  }

  public List<String> getCookies() {
    return cookies;
  }

  public void setCookies(List<String> cookies) {
    this.cookies = cookies;
  }

  public String getBody() {
    return body;
  }

  public void setBody(String body) {
    this.body = body;
  }

  public boolean getIsBase64Encoded() {
    return isBase64Encoded;
  }

  public void setIsBase64Encoded(boolean isBase64Encoded) {
    this.isBase64Encoded = isBase64Encoded;
  }

  @Override
  public boolean equals(Object obj) {
    if (this == obj) return true;
    if (!(obj instanceof APIGatewayV2HTTPResponse)) return false;
    APIGatewayV2HTTPResponse o = (APIGatewayV2HTTPResponse) obj;
    return Objects.equals(statusCode, o.statusCode) && Objects.equals(headers, o.headers) && Objects.equals(multiValueHeaders, o.multiValueHeaders) && Objects.equals(cookies, o.cookies) && Objects.equals(body, o.body) && Objects.equals(isBase64Encoded, o.isBase64Encoded);
  }

  @Override
  public int hashCode() {
    return Objects.hash(statusCode, headers, multiValueHeaders, cookies, body, isBase64Encoded);
  }

  @Override
  public String toString() {
    return "APIGatewayV2HTTPResponse(" + "statusCode=" + statusCode + ", " + "headers=" + headers + ", " + "multiValueHeaders=" + multiValueHeaders + ", " + "cookies=" + cookies + ", " + "body=" + body + ", " + "isBase64Encoded=" + isBase64Encoded + ")";
  }

  /** Lombok's builder shape: {@code APIGatewayV2HTTPResponse.builder().withX(..).build()}. */
  public static class APIGatewayV2HTTPResponseBuilder {
    private int statusCode;
    private Map<String, String> headers;
    private Map<String, List<String>> multiValueHeaders;
    private List<String> cookies;
    private String body;
    private boolean isBase64Encoded;

    APIGatewayV2HTTPResponseBuilder() {}

    public APIGatewayV2HTTPResponseBuilder withStatusCode(int statusCode) {
      this.statusCode = statusCode;
      return this;
    }

    public APIGatewayV2HTTPResponseBuilder withHeaders(Map<String, String> headers) {
      this.headers = headers;
      return this;
    }

    public APIGatewayV2HTTPResponseBuilder withMultiValueHeaders(Map<String, List<String>> multiValueHeaders) {
      this.multiValueHeaders = multiValueHeaders;
      return this;
    }

    public APIGatewayV2HTTPResponseBuilder withCookies(List<String> cookies) {
      this.cookies = cookies;
      return this;
    }

    public APIGatewayV2HTTPResponseBuilder withBody(String body) {
      this.body = body;
      return this;
    }

    public APIGatewayV2HTTPResponseBuilder withIsBase64Encoded(boolean isBase64Encoded) {
      this.isBase64Encoded = isBase64Encoded;
      return this;
    }

    public APIGatewayV2HTTPResponse build() {
      return new APIGatewayV2HTTPResponse(statusCode, headers, multiValueHeaders, cookies, body, isBase64Encoded);
    }
  }
}

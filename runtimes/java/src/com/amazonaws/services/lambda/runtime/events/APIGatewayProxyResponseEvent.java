package com.amazonaws.services.lambda.runtime.events;

import java.io.Serializable;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A response for a REST API's (or payload format 1.0's) Lambda proxy integration: Kiln's
 * implementation of aws-lambda-java-events' class of this name.
 */
public class APIGatewayProxyResponseEvent implements Serializable, Cloneable {
  private static final long serialVersionUID = 1L;

  private Integer statusCode;
  private Map<String, String> headers;
  private Map<String, List<String>> multiValueHeaders;
  private String body;
  private Boolean isBase64Encoded;

  public APIGatewayProxyResponseEvent() {}

  public Integer getStatusCode() {
    return statusCode;
  }

  public void setStatusCode(Integer statusCode) {
    this.statusCode = statusCode;
  }

  public APIGatewayProxyResponseEvent withStatusCode(Integer statusCode) {
    this.statusCode = statusCode;
    return this;
  }

  public Map<String, String> getHeaders() {
    return headers;
  }

  public void setHeaders(Map<String, String> headers) {
    this.headers = headers;
  }

  public APIGatewayProxyResponseEvent withHeaders(Map<String, String> headers) {
    this.headers = headers;
    return this;
  }

  public Map<String, List<String>> getMultiValueHeaders() {
    return multiValueHeaders;
  }

  public void setMultiValueHeaders(Map<String, List<String>> multiValueHeaders) {
    this.multiValueHeaders = multiValueHeaders;
  }

  public APIGatewayProxyResponseEvent withMultiValueHeaders(Map<String, List<String>> multiValueHeaders) {
    this.multiValueHeaders = multiValueHeaders;
    return this;
  }

  public String getBody() {
    return body;
  }

  public void setBody(String body) {
    this.body = body;
  }

  public APIGatewayProxyResponseEvent withBody(String body) {
    this.body = body;
    return this;
  }

  public Boolean getIsBase64Encoded() {
    return isBase64Encoded;
  }

  public void setIsBase64Encoded(Boolean isBase64Encoded) {
    this.isBase64Encoded = isBase64Encoded;
  }

  public APIGatewayProxyResponseEvent withIsBase64Encoded(Boolean isBase64Encoded) {
    this.isBase64Encoded = isBase64Encoded;
    return this;
  }

  @Override
  public boolean equals(Object obj) {
    if (this == obj) return true;
    if (!(obj instanceof APIGatewayProxyResponseEvent)) return false;
    APIGatewayProxyResponseEvent o = (APIGatewayProxyResponseEvent) obj;
    return Objects.equals(statusCode, o.statusCode) && Objects.equals(headers, o.headers) && Objects.equals(multiValueHeaders, o.multiValueHeaders) && Objects.equals(body, o.body) && Objects.equals(isBase64Encoded, o.isBase64Encoded);
  }

  @Override
  public int hashCode() {
    return Objects.hash(statusCode, headers, multiValueHeaders, body, isBase64Encoded);
  }

  @Override
  public String toString() {
    return "APIGatewayProxyResponseEvent(" + "statusCode=" + statusCode + ", " + "headers=" + headers + ", " + "multiValueHeaders=" + multiValueHeaders + ", " + "body=" + body + ", " + "isBase64Encoded=" + isBase64Encoded + ")";
  }

  @Override
  public APIGatewayProxyResponseEvent clone() {
    try {
      return (APIGatewayProxyResponseEvent) super.clone();
    } catch (CloneNotSupportedException e) {
      throw new IllegalStateException("Got a CloneNotSupportedException from Object.clone()", e);
    }
  }
}

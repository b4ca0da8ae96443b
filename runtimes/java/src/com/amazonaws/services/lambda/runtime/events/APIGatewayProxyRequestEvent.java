package com.amazonaws.services.lambda.runtime.events;

import java.io.Serializable;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The event of a REST API's (or payload format 1.0's) Lambda proxy integration: Kiln's
 * implementation of aws-lambda-java-events' class of this name (getters, setters and fluent
 * {@code withX} as it has them).
 */
public class APIGatewayProxyRequestEvent implements Serializable, Cloneable {
  private static final long serialVersionUID = 1L;

  private String version;
  private String resource;
  private String path;
  private String httpMethod;
  private Map<String, String> headers;
  private Map<String, List<String>> multiValueHeaders;
  private Map<String, String> queryStringParameters;
  private Map<String, List<String>> multiValueQueryStringParameters;
  private Map<String, String> pathParameters;
  private Map<String, String> stageVariables;
  private ProxyRequestContext requestContext;
  private String body;
  private Boolean isBase64Encoded;

  public APIGatewayProxyRequestEvent() {}

  public String getVersion() {
    return version;
  }

  public void setVersion(String version) {
    this.version = version;
  }

  public APIGatewayProxyRequestEvent withVersion(String version) {
    this.version = version;
    return this;
  }

  public String getResource() {
    return resource;
  }

  public void setResource(String resource) {
    this.resource = resource;
  }

  public APIGatewayProxyRequestEvent withResource(String resource) {
    this.resource = resource;
    return this;
  }

  public String getPath() {
    return path;
  }

  public void setPath(String path) {
    this.path = path;
  }

  public APIGatewayProxyRequestEvent withPath(String path) {
    this.path = path;
    return this;
  }

  public String getHttpMethod() {
    return httpMethod;
  }

  public void setHttpMethod(String httpMethod) {
    this.httpMethod = httpMethod;
  }

  public APIGatewayProxyRequestEvent withHttpMethod(String httpMethod) {
    this.httpMethod = httpMethod;
    return this;
  }

  public Map<String, String> getHeaders() {
    return headers;
  }

  public void setHeaders(Map<String, String> headers) {
    this.headers = headers;
  }

  public APIGatewayProxyRequestEvent withHeaders(Map<String, String> headers) {
    this.headers = headers;
    return this;
  }

  public Map<String, List<String>> getMultiValueHeaders() {
    return multiValueHeaders;
  }

  public void setMultiValueHeaders(Map<String, List<String>> multiValueHeaders) {
    this.multiValueHeaders = multiValueHeaders;
  }

  public APIGatewayProxyRequestEvent withMultiValueHeaders(Map<String, List<String>> multiValueHeaders) {
    this.multiValueHeaders = multiValueHeaders;
    return this;
  }

  public Map<String, String> getQueryStringParameters() {
    return queryStringParameters;
  }

  public void setQueryStringParameters(Map<String, String> queryStringParameters) {
    this.queryStringParameters = queryStringParameters;
  }

  public APIGatewayProxyRequestEvent withQueryStringParameters(Map<String, String> queryStringParameters) {
    this.queryStringParameters = queryStringParameters;
    return this;
  }

  public Map<String, List<String>> getMultiValueQueryStringParameters() {
    return multiValueQueryStringParameters;
  }

  public void setMultiValueQueryStringParameters(Map<String, List<String>> multiValueQueryStringParameters) {
    this.multiValueQueryStringParameters = multiValueQueryStringParameters;
  }

  public APIGatewayProxyRequestEvent withMultiValueQueryStringParameters(Map<String, List<String>> multiValueQueryStringParameters) {
    this.multiValueQueryStringParameters = multiValueQueryStringParameters;
    return this;
  }

  public Map<String, String> getPathParameters() {
    return pathParameters;
  }

  public void setPathParameters(Map<String, String> pathParameters) {
    this.pathParameters = pathParameters;
  }

  public APIGatewayProxyRequestEvent withPathParameters(Map<String, String> pathParameters) {
    this.pathParameters = pathParameters;
    return this;
  }

  public Map<String, String> getStageVariables() {
    return stageVariables;
  }

  public void setStageVariables(Map<String, String> stageVariables) {
    this.stageVariables = stageVariables;
  }

  public APIGatewayProxyRequestEvent withStageVariables(Map<String, String> stageVariables) {
    this.stageVariables = stageVariables;
    return this;
  }

  public ProxyRequestContext getRequestContext() {
    return requestContext;
  }

  public void setRequestContext(ProxyRequestContext requestContext) {
    this.requestContext = requestContext;
  }

  public APIGatewayProxyRequestEvent withRequestContext(ProxyRequestContext requestContext) {
    this.requestContext = requestContext;
    return this;
  }

  public String getBody() {
    return body;
  }

  public void setBody(String body) {
    this.body = body;
  }

  public APIGatewayProxyRequestEvent withBody(String body) {
    this.body = body;
    return this;
  }

  public Boolean getIsBase64Encoded() {
    return isBase64Encoded;
  }

  public void setIsBase64Encoded(Boolean isBase64Encoded) {
    this.isBase64Encoded = isBase64Encoded;
  }

  public APIGatewayProxyRequestEvent withIsBase64Encoded(Boolean isBase64Encoded) {
    this.isBase64Encoded = isBase64Encoded;
    return this;
  }

  @Override
  public boolean equals(Object obj) {
    if (this == obj) return true;
    if (!(obj instanceof APIGatewayProxyRequestEvent)) return false;
    APIGatewayProxyRequestEvent o = (APIGatewayProxyRequestEvent) obj;
    return Objects.equals(version, o.version) && Objects.equals(resource, o.resource) && Objects.equals(path, o.path) && Objects.equals(httpMethod, o.httpMethod) && Objects.equals(headers, o.headers) && Objects.equals(multiValueHeaders, o.multiValueHeaders) && Objects.equals(queryStringParameters, o.queryStringParameters) && Objects.equals(multiValueQueryStringParameters, o.multiValueQueryStringParameters) && Objects.equals(pathParameters, o.pathParameters) && Objects.equals(stageVariables, o.stageVariables) && Objects.equals(requestContext, o.requestContext) && Objects.equals(body, o.body) && Objects.equals(isBase64Encoded, o.isBase64Encoded);
  }

  @Override
  public int hashCode() {
    return Objects.hash(version, resource, path, httpMethod, headers, multiValueHeaders, queryStringParameters, multiValueQueryStringParameters, pathParameters, stageVariables, requestContext, body, isBase64Encoded);
  }

  @Override
  public String toString() {
    return "APIGatewayProxyRequestEvent(" + "version=" + version + ", " + "resource=" + resource + ", " + "path=" + path + ", " + "httpMethod=" + httpMethod + ", " + "headers=" + headers + ", " + "multiValueHeaders=" + multiValueHeaders + ", " + "queryStringParameters=" + queryStringParameters + ", " + "multiValueQueryStringParameters=" + multiValueQueryStringParameters + ", " + "pathParameters=" + pathParameters + ", " + "stageVariables=" + stageVariables + ", " + "requestContext=" + requestContext + ", " + "body=" + body + ", " + "isBase64Encoded=" + isBase64Encoded + ")";
  }

  @Override
  public APIGatewayProxyRequestEvent clone() {
    try {
      return (APIGatewayProxyRequestEvent) super.clone();
    } catch (CloneNotSupportedException e) {
      throw new IllegalStateException("Got a CloneNotSupportedException from Object.clone()", e);
    }
  }

  /** The misspelt name aws-lambda-java-events keeps for old callers. */
  public APIGatewayProxyRequestEvent withQueryStringParamters(Map<String, String> queryStringParameters) {
    return withQueryStringParameters(queryStringParameters);
  }

  /** The misspelt name aws-lambda-java-events keeps for old callers. */
  public APIGatewayProxyRequestEvent withPathParamters(Map<String, String> pathParameters) {
    return withPathParameters(pathParameters);
  }

  public static class ProxyRequestContext implements Serializable, Cloneable {
    private static final long serialVersionUID = 1L;

    private String accountId;
    private String stage;
    private String resourceId;
    private String requestId;
    private String operationName;
    private RequestIdentity identity;
    private String resourcePath;
    private String httpMethod;
    private String apiId;
    private String path;
    private Map<String, Object> authorizer;
    private String extendedRequestId;
    private String requestTime;
    private Long requestTimeEpoch;
    private String domainName;
    private String domainPrefix;
    private String protocol;

    public ProxyRequestContext() {}

    public String getAccountId() {
      return accountId;
    }

    public void setAccountId(String accountId) {
      this.accountId = accountId;
    }

    public ProxyRequestContext withAccountId(String accountId) {
      this.accountId = accountId;
      return this;
    }

    public String getStage() {
      return stage;
    }

    public void setStage(String stage) {
      this.stage = stage;
    }

    public ProxyRequestContext withStage(String stage) {
      this.stage = stage;
      return this;
    }

    public String getResourceId() {
      return resourceId;
    }

    public void setResourceId(String resourceId) {
      this.resourceId = resourceId;
    }

    public ProxyRequestContext withResourceId(String resourceId) {
      this.resourceId = resourceId;
      return this;
    }

    public String getRequestId() {
      return requestId;
    }

    public void setRequestId(String requestId) {
      this.requestId = requestId;
    }

    public ProxyRequestContext withRequestId(String requestId) {
      this.requestId = requestId;
      return this;
    }

    public String getOperationName() {
      return operationName;
    }

    public void setOperationName(String operationName) {
      this.operationName = operationName;
    }

    public ProxyRequestContext withOperationName(String operationName) {
      this.operationName = operationName;
      return this;
    }

    public RequestIdentity getIdentity() {
      return identity;
    }

    public void setIdentity(RequestIdentity identity) {
      this.identity = identity;
    }

    public ProxyRequestContext withIdentity(RequestIdentity identity) {
      this.identity = identity;
      return this;
    }

    public String getResourcePath() {
      return resourcePath;
    }

    public void setResourcePath(String resourcePath) {
      this.resourcePath = resourcePath;
    }

    public ProxyRequestContext withResourcePath(String resourcePath) {
      this.resourcePath = resourcePath;
      return this;
    }

    public String getHttpMethod() {
      return httpMethod;
    }

    public void setHttpMethod(String httpMethod) {
      this.httpMethod = httpMethod;
    }

    public ProxyRequestContext withHttpMethod(String httpMethod) {
      this.httpMethod = httpMethod;
      return this;
    }

    public String getApiId() {
      return apiId;
    }

    public void setApiId(String apiId) {
      this.apiId = apiId;
    }

    public ProxyRequestContext withApiId(String apiId) {
      this.apiId = apiId;
      return this;
    }

    public String getPath() {
      return path;
    }

    public void setPath(String path) {
      this.path = path;
    }

    public ProxyRequestContext withPath(String path) {
      this.path = path;
      return this;
    }

    public Map<String, Object> getAuthorizer() {
      return authorizer;
    }

    public void setAuthorizer(Map<String, Object> authorizer) {
      this.authorizer = authorizer;
    }

    public ProxyRequestContext withAuthorizer(Map<String, Object> authorizer) {
      this.authorizer = authorizer;
      return this;
    }

    public String getExtendedRequestId() {
      return extendedRequestId;
    }

    public void setExtendedRequestId(String extendedRequestId) {
      this.extendedRequestId = extendedRequestId;
    }

    public ProxyRequestContext withExtendedRequestId(String extendedRequestId) {
      this.extendedRequestId = extendedRequestId;
      return this;
    }

    public String getRequestTime() {
      return requestTime;
    }

    public void setRequestTime(String requestTime) {
      this.requestTime = requestTime;
    }

    public ProxyRequestContext withRequestTime(String requestTime) {
      this.requestTime = requestTime;
      return this;
    }

    public Long getRequestTimeEpoch() {
      return requestTimeEpoch;
    }

    public void setRequestTimeEpoch(Long requestTimeEpoch) {
      this.requestTimeEpoch = requestTimeEpoch;
    }

    public ProxyRequestContext withRequestTimeEpoch(Long requestTimeEpoch) {
      this.requestTimeEpoch = requestTimeEpoch;
      return this;
    }

    public String getDomainName() {
      return domainName;
    }

    public void setDomainName(String domainName) {
      this.domainName = domainName;
    }

    public ProxyRequestContext withDomainName(String domainName) {
      this.domainName = domainName;
      return this;
    }

    public String getDomainPrefix() {
      return domainPrefix;
    }

    public void setDomainPrefix(String domainPrefix) {
      this.domainPrefix = domainPrefix;
    }

    public ProxyRequestContext withDomainPrefix(String domainPrefix) {
      this.domainPrefix = domainPrefix;
      return this;
    }

    public String getProtocol() {
      return protocol;
    }

    public void setProtocol(String protocol) {
      this.protocol = protocol;
    }

    public ProxyRequestContext withProtocol(String protocol) {
      this.protocol = protocol;
      return this;
    }

    @Override
    public boolean equals(Object obj) {
      if (this == obj) return true;
      if (!(obj instanceof ProxyRequestContext)) return false;
      ProxyRequestContext o = (ProxyRequestContext) obj;
      return Objects.equals(accountId, o.accountId) && Objects.equals(stage, o.stage) && Objects.equals(resourceId, o.resourceId) && Objects.equals(requestId, o.requestId) && Objects.equals(operationName, o.operationName) && Objects.equals(identity, o.identity) && Objects.equals(resourcePath, o.resourcePath) && Objects.equals(httpMethod, o.httpMethod) && Objects.equals(apiId, o.apiId) && Objects.equals(path, o.path) && Objects.equals(authorizer, o.authorizer) && Objects.equals(extendedRequestId, o.extendedRequestId) && Objects.equals(requestTime, o.requestTime) && Objects.equals(requestTimeEpoch, o.requestTimeEpoch) && Objects.equals(domainName, o.domainName) && Objects.equals(domainPrefix, o.domainPrefix) && Objects.equals(protocol, o.protocol);
    }

    @Override
    public int hashCode() {
      return Objects.hash(accountId, stage, resourceId, requestId, operationName, identity, resourcePath, httpMethod, apiId, path, authorizer, extendedRequestId, requestTime, requestTimeEpoch, domainName, domainPrefix, protocol);
    }

    @Override
    public String toString() {
      return "ProxyRequestContext(" + "accountId=" + accountId + ", " + "stage=" + stage + ", " + "resourceId=" + resourceId + ", " + "requestId=" + requestId + ", " + "operationName=" + operationName + ", " + "identity=" + identity + ", " + "resourcePath=" + resourcePath + ", " + "httpMethod=" + httpMethod + ", " + "apiId=" + apiId + ", " + "path=" + path + ", " + "authorizer=" + authorizer + ", " + "extendedRequestId=" + extendedRequestId + ", " + "requestTime=" + requestTime + ", " + "requestTimeEpoch=" + requestTimeEpoch + ", " + "domainName=" + domainName + ", " + "domainPrefix=" + domainPrefix + ", " + "protocol=" + protocol + ")";
    }

    @Override
    public ProxyRequestContext clone() {
      try {
        return (ProxyRequestContext) super.clone();
      } catch (CloneNotSupportedException e) {
        throw new IllegalStateException("Got a CloneNotSupportedException from Object.clone()", e);
      }
    }
  }

  public static class RequestIdentity implements Serializable, Cloneable {
    private static final long serialVersionUID = 1L;

    private String cognitoIdentityPoolId;
    private String accountId;
    private String cognitoIdentityId;
    private String caller;
    private String apiKey;
    private String principalOrgId;
    private String sourceIp;
    private String cognitoAuthenticationType;
    private String cognitoAuthenticationProvider;
    private String userArn;
    private String userAgent;
    private String user;
    private String accessKey;

    public RequestIdentity() {}

    public String getCognitoIdentityPoolId() {
      return cognitoIdentityPoolId;
    }

    public void setCognitoIdentityPoolId(String cognitoIdentityPoolId) {
      this.cognitoIdentityPoolId = cognitoIdentityPoolId;
    }

    public RequestIdentity withCognitoIdentityPoolId(String cognitoIdentityPoolId) {
      this.cognitoIdentityPoolId = cognitoIdentityPoolId;
      return this;
    }

    public String getAccountId() {
      return accountId;
    }

    public void setAccountId(String accountId) {
      this.accountId = accountId;
    }

    public RequestIdentity withAccountId(String accountId) {
      this.accountId = accountId;
      return this;
    }

    public String getCognitoIdentityId() {
      return cognitoIdentityId;
    }

    public void setCognitoIdentityId(String cognitoIdentityId) {
      this.cognitoIdentityId = cognitoIdentityId;
    }

    public RequestIdentity withCognitoIdentityId(String cognitoIdentityId) {
      this.cognitoIdentityId = cognitoIdentityId;
      return this;
    }

    public String getCaller() {
      return caller;
    }

    public void setCaller(String caller) {
      this.caller = caller;
    }

    public RequestIdentity withCaller(String caller) {
      this.caller = caller;
      return this;
    }

    public String getApiKey() {
      return apiKey;
    }

    public void setApiKey(String apiKey) {
      this.apiKey = apiKey;
    }

    public RequestIdentity withApiKey(String apiKey) {
      this.apiKey = apiKey;
      return this;
    }

    public String getPrincipalOrgId() {
      return principalOrgId;
    }

    public void setPrincipalOrgId(String principalOrgId) {
      this.principalOrgId = principalOrgId;
    }

    public RequestIdentity withPrincipalOrgId(String principalOrgId) {
      this.principalOrgId = principalOrgId;
      return this;
    }

    public String getSourceIp() {
      return sourceIp;
    }

    public void setSourceIp(String sourceIp) {
      this.sourceIp = sourceIp;
    }

    public RequestIdentity withSourceIp(String sourceIp) {
      this.sourceIp = sourceIp;
      return this;
    }

    public String getCognitoAuthenticationType() {
      return cognitoAuthenticationType;
    }

    public void setCognitoAuthenticationType(String cognitoAuthenticationType) {
      this.cognitoAuthenticationType = cognitoAuthenticationType;
    }

    public RequestIdentity withCognitoAuthenticationType(String cognitoAuthenticationType) {
      this.cognitoAuthenticationType = cognitoAuthenticationType;
      return this;
    }

    public String getCognitoAuthenticationProvider() {
      return cognitoAuthenticationProvider;
    }

    public void setCognitoAuthenticationProvider(String cognitoAuthenticationProvider) {
      this.cognitoAuthenticationProvider = cognitoAuthenticationProvider;
    }

    public RequestIdentity withCognitoAuthenticationProvider(String cognitoAuthenticationProvider) {
      this.cognitoAuthenticationProvider = cognitoAuthenticationProvider;
      return this;
    }

    public String getUserArn() {
      return userArn;
    }

    public void setUserArn(String userArn) {
      this.userArn = userArn;
    }

    public RequestIdentity withUserArn(String userArn) {
      this.userArn = userArn;
      return this;
    }

    public String getUserAgent() {
      return userAgent;
    }

    public void setUserAgent(String userAgent) {
      this.userAgent = userAgent;
    }

    public RequestIdentity withUserAgent(String userAgent) {
      this.userAgent = userAgent;
      return this;
    }

    public String getUser() {
      return user;
    }

    public void setUser(String user) {
      this.user = user;
    }

    public RequestIdentity withUser(String user) {
      this.user = user;
      return this;
    }

    public String getAccessKey() {
      return accessKey;
    }

    public void setAccessKey(String accessKey) {
      this.accessKey = accessKey;
    }

    public RequestIdentity withAccessKey(String accessKey) {
      this.accessKey = accessKey;
      return this;
    }

    @Override
    public boolean equals(Object obj) {
      if (this == obj) return true;
      if (!(obj instanceof RequestIdentity)) return false;
      RequestIdentity o = (RequestIdentity) obj;
      return Objects.equals(cognitoIdentityPoolId, o.cognitoIdentityPoolId) && Objects.equals(accountId, o.accountId) && Objects.equals(cognitoIdentityId, o.cognitoIdentityId) && Objects.equals(caller, o.caller) && Objects.equals(apiKey, o.apiKey) && Objects.equals(principalOrgId, o.principalOrgId) && Objects.equals(sourceIp, o.sourceIp) && Objects.equals(cognitoAuthenticationType, o.cognitoAuthenticationType) && Objects.equals(cognitoAuthenticationProvider, o.cognitoAuthenticationProvider) && Objects.equals(userArn, o.userArn) && Objects.equals(userAgent, o.userAgent) && Objects.equals(user, o.user) && Objects.equals(accessKey, o.accessKey);
    }

    @Override
    public int hashCode() {
      return Objects.hash(cognitoIdentityPoolId, accountId, cognitoIdentityId, caller, apiKey, principalOrgId, sourceIp, cognitoAuthenticationType, cognitoAuthenticationProvider, userArn, userAgent, user, accessKey);
    }

    @Override
    public String toString() {
      return "RequestIdentity(" + "cognitoIdentityPoolId=" + cognitoIdentityPoolId + ", " + "accountId=" + accountId + ", " + "cognitoIdentityId=" + cognitoIdentityId + ", " + "caller=" + caller + ", " + "apiKey=" + apiKey + ", " + "principalOrgId=" + principalOrgId + ", " + "sourceIp=" + sourceIp + ", " + "cognitoAuthenticationType=" + cognitoAuthenticationType + ", " + "cognitoAuthenticationProvider=" + cognitoAuthenticationProvider + ", " + "userArn=" + userArn + ", " + "userAgent=" + userAgent + ", " + "user=" + user + ", " + "accessKey=" + accessKey + ")";
    }

    @Override
    public RequestIdentity clone() {
      try {
        return (RequestIdentity) super.clone();
      } catch (CloneNotSupportedException e) {
        throw new IllegalStateException("Got a CloneNotSupportedException from Object.clone()", e);
      }
    }
  }
}

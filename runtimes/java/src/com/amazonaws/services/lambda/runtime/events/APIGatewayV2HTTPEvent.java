package com.amazonaws.services.lambda.runtime.events;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The event of an HTTP API's Lambda integration, payload format 2.0: Kiln's implementation of
 * aws-lambda-java-events' class of this name (accessors, builder, nested types as it has them).
 */
public class APIGatewayV2HTTPEvent {
  private String version;
  private String routeKey;
  private String rawPath;
  private String rawQueryString;
  private List<String> cookies;
  private Map<String, String> headers;
  private Map<String, String> queryStringParameters;
  private Map<String, String> pathParameters;
  private Map<String, String> stageVariables;
  private String body;
  private boolean isBase64Encoded;
  private RequestContext requestContext;

  public APIGatewayV2HTTPEvent() {}

  public APIGatewayV2HTTPEvent(
      String version,
      String routeKey,
      String rawPath,
      String rawQueryString,
      List<String> cookies,
      Map<String, String> headers,
      Map<String, String> queryStringParameters,
      Map<String, String> pathParameters,
      Map<String, String> stageVariables,
      String body,
      boolean isBase64Encoded,
      RequestContext requestContext) {
    this.version = version;
    this.routeKey = routeKey;
    this.rawPath = rawPath;
    this.rawQueryString = rawQueryString;
    this.cookies = cookies;
    this.headers = headers;
    this.queryStringParameters = queryStringParameters;
    this.pathParameters = pathParameters;
    this.stageVariables = stageVariables;
    this.body = body;
    this.isBase64Encoded = isBase64Encoded;
    this.requestContext = requestContext;
  }

  public static APIGatewayV2HTTPEventBuilder builder() {
    return new APIGatewayV2HTTPEventBuilder();
  }

  public String getVersion() {
    return version;
  }

  public void setVersion(String version) {
    this.version = version;
  }

  public String getRouteKey() {
    return routeKey;
  }

  public void setRouteKey(String routeKey) {
    this.routeKey = routeKey;
  }

  public String getRawPath() {
    return rawPath;
  }

  public void setRawPath(String rawPath) {
    this.rawPath = rawPath;
  }

  public String getRawQueryString() {
    return rawQueryString;
  }

  public void setRawQueryString(String rawQueryString) {
    this.rawQueryString = rawQueryString;
  }

  public List<String> getCookies() {
    return cookies;
  }

  public void setCookies(List<String> cookies) {
    this.cookies = cookies;
  }

  public Map<String, String> getHeaders() {
    return headers;
  }

  public void setHeaders(Map<String, String> headers) {
    this.headers = headers;
  }

  public Map<String, String> getQueryStringParameters() {
    return queryStringParameters;
  }

  public void setQueryStringParameters(Map<String, String> queryStringParameters) {
    this.queryStringParameters = queryStringParameters;
  }

  public Map<String, String> getPathParameters() {
    return pathParameters;
  }

  public void setPathParameters(Map<String, String> pathParameters) {
    this.pathParameters = pathParameters;
  }

  public Map<String, String> getStageVariables() {
    return stageVariables;
  }

  public void setStageVariables(Map<String, String> stageVariables) {
    this.stageVariables = stageVariables;
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

  public RequestContext getRequestContext() {
    return requestContext;
  }

  public void setRequestContext(RequestContext requestContext) {
    this.requestContext = requestContext;
  }

  @Override
  public boolean equals(Object obj) {
    if (this == obj) return true;
    if (!(obj instanceof APIGatewayV2HTTPEvent)) return false;
    APIGatewayV2HTTPEvent o = (APIGatewayV2HTTPEvent) obj;
    return Objects.equals(version, o.version) && Objects.equals(routeKey, o.routeKey) && Objects.equals(rawPath, o.rawPath) && Objects.equals(rawQueryString, o.rawQueryString) && Objects.equals(cookies, o.cookies) && Objects.equals(headers, o.headers) && Objects.equals(queryStringParameters, o.queryStringParameters) && Objects.equals(pathParameters, o.pathParameters) && Objects.equals(stageVariables, o.stageVariables) && Objects.equals(body, o.body) && Objects.equals(isBase64Encoded, o.isBase64Encoded) && Objects.equals(requestContext, o.requestContext);
  }

  @Override
  public int hashCode() {
    return Objects.hash(version, routeKey, rawPath, rawQueryString, cookies, headers, queryStringParameters, pathParameters, stageVariables, body, isBase64Encoded, requestContext);
  }

  @Override
  public String toString() {
    return "APIGatewayV2HTTPEvent(" + "version=" + version + ", " + "routeKey=" + routeKey + ", " + "rawPath=" + rawPath + ", " + "rawQueryString=" + rawQueryString + ", " + "cookies=" + cookies + ", " + "headers=" + headers + ", " + "queryStringParameters=" + queryStringParameters + ", " + "pathParameters=" + pathParameters + ", " + "stageVariables=" + stageVariables + ", " + "body=" + body + ", " + "isBase64Encoded=" + isBase64Encoded + ", " + "requestContext=" + requestContext + ")";
  }

  /** Lombok's builder shape: {@code APIGatewayV2HTTPEvent.builder().withX(..).build()}. */
  public static class APIGatewayV2HTTPEventBuilder {
    private String version;
    private String routeKey;
    private String rawPath;
    private String rawQueryString;
    private List<String> cookies;
    private Map<String, String> headers;
    private Map<String, String> queryStringParameters;
    private Map<String, String> pathParameters;
    private Map<String, String> stageVariables;
    private String body;
    private boolean isBase64Encoded;
    private RequestContext requestContext;

    APIGatewayV2HTTPEventBuilder() {}

    public APIGatewayV2HTTPEventBuilder withVersion(String version) {
      this.version = version;
      return this;
    }

    public APIGatewayV2HTTPEventBuilder withRouteKey(String routeKey) {
      this.routeKey = routeKey;
      return this;
    }

    public APIGatewayV2HTTPEventBuilder withRawPath(String rawPath) {
      this.rawPath = rawPath;
      return this;
    }

    public APIGatewayV2HTTPEventBuilder withRawQueryString(String rawQueryString) {
      this.rawQueryString = rawQueryString;
      return this;
    }

    public APIGatewayV2HTTPEventBuilder withCookies(List<String> cookies) {
      this.cookies = cookies;
      return this;
    }

    public APIGatewayV2HTTPEventBuilder withHeaders(Map<String, String> headers) {
      this.headers = headers;
      return this;
    }

    public APIGatewayV2HTTPEventBuilder withQueryStringParameters(Map<String, String> queryStringParameters) {
      this.queryStringParameters = queryStringParameters;
      return this;
    }

    public APIGatewayV2HTTPEventBuilder withPathParameters(Map<String, String> pathParameters) {
      this.pathParameters = pathParameters;
      return this;
    }

    public APIGatewayV2HTTPEventBuilder withStageVariables(Map<String, String> stageVariables) {
      this.stageVariables = stageVariables;
      return this;
    }

    public APIGatewayV2HTTPEventBuilder withBody(String body) {
      this.body = body;
      return this;
    }

    public APIGatewayV2HTTPEventBuilder withIsBase64Encoded(boolean isBase64Encoded) {
      this.isBase64Encoded = isBase64Encoded;
      return this;
    }

    public APIGatewayV2HTTPEventBuilder withRequestContext(RequestContext requestContext) {
      this.requestContext = requestContext;
      return this;
    }

    public APIGatewayV2HTTPEvent build() {
      return new APIGatewayV2HTTPEvent(version, routeKey, rawPath, rawQueryString, cookies, headers, queryStringParameters, pathParameters, stageVariables, body, isBase64Encoded, requestContext);
    }
  }

  public static class RequestContext {
    private String routeKey;
    private String accountId;
    private String stage;
    private String apiId;
    private String domainName;
    private String domainPrefix;
    private String time;
    private long timeEpoch;
    private Http http;
    private Authorizer authorizer;
    private String requestId;

    public RequestContext() {}

    public RequestContext(
        String routeKey,
        String accountId,
        String stage,
        String apiId,
        String domainName,
        String domainPrefix,
        String time,
        long timeEpoch,
        Http http,
        Authorizer authorizer,
        String requestId) {
      this.routeKey = routeKey;
      this.accountId = accountId;
      this.stage = stage;
      this.apiId = apiId;
      this.domainName = domainName;
      this.domainPrefix = domainPrefix;
      this.time = time;
      this.timeEpoch = timeEpoch;
      this.http = http;
      this.authorizer = authorizer;
      this.requestId = requestId;
    }

    public static RequestContextBuilder builder() {
      return new RequestContextBuilder();
    }

    public String getRouteKey() {
      return routeKey;
    }

    public void setRouteKey(String routeKey) {
      this.routeKey = routeKey;
    }

    public String getAccountId() {
      return accountId;
    }

    public void setAccountId(String accountId) {
      this.accountId = accountId;
    }

    public String getStage() {
      return stage;
    }

    public void setStage(String stage) {
      this.stage = stage;
    }

    public String getApiId() {
      return apiId;
    }

    public void setApiId(String apiId) {
      this.apiId = apiId;
    }

    public String getDomainName() {
      return domainName;
    }

    public void setDomainName(String domainName) {
      this.domainName = domainName;
    }

    public String getDomainPrefix() {
      return domainPrefix;
    }

    public void setDomainPrefix(String domainPrefix) {
      this.domainPrefix = domainPrefix;
    }

    public String getTime() {
      return time;
    }

    public void setTime(String time) {
      this.time = time;
    }

    public long getTimeEpoch() {
      return timeEpoch;
    }

    public void setTimeEpoch(long timeEpoch) {
      this.timeEpoch = timeEpoch;
    }

    public Http getHttp() {
      return http;
    }

    public void setHttp(Http http) {
      this.http = http;
    }

    public Authorizer getAuthorizer() {
      return authorizer;
    }

    public void setAuthorizer(Authorizer authorizer) {
      this.authorizer = authorizer;
    }

    public String getRequestId() {
      return requestId;
    }

    public void setRequestId(String requestId) {
      this.requestId = requestId;
    }

    @Override
    public boolean equals(Object obj) {
      if (this == obj) return true;
      if (!(obj instanceof RequestContext)) return false;
      RequestContext o = (RequestContext) obj;
      return Objects.equals(routeKey, o.routeKey) && Objects.equals(accountId, o.accountId) && Objects.equals(stage, o.stage) && Objects.equals(apiId, o.apiId) && Objects.equals(domainName, o.domainName) && Objects.equals(domainPrefix, o.domainPrefix) && Objects.equals(time, o.time) && Objects.equals(timeEpoch, o.timeEpoch) && Objects.equals(http, o.http) && Objects.equals(authorizer, o.authorizer) && Objects.equals(requestId, o.requestId);
    }

    @Override
    public int hashCode() {
      return Objects.hash(routeKey, accountId, stage, apiId, domainName, domainPrefix, time, timeEpoch, http, authorizer, requestId);
    }

    @Override
    public String toString() {
      return "RequestContext(" + "routeKey=" + routeKey + ", " + "accountId=" + accountId + ", " + "stage=" + stage + ", " + "apiId=" + apiId + ", " + "domainName=" + domainName + ", " + "domainPrefix=" + domainPrefix + ", " + "time=" + time + ", " + "timeEpoch=" + timeEpoch + ", " + "http=" + http + ", " + "authorizer=" + authorizer + ", " + "requestId=" + requestId + ")";
    }

    /** Lombok's builder shape: {@code RequestContext.builder().withX(..).build()}. */
    public static class RequestContextBuilder {
      private String routeKey;
      private String accountId;
      private String stage;
      private String apiId;
      private String domainName;
      private String domainPrefix;
      private String time;
      private long timeEpoch;
      private Http http;
      private Authorizer authorizer;
      private String requestId;

      RequestContextBuilder() {}

      public RequestContextBuilder withRouteKey(String routeKey) {
        this.routeKey = routeKey;
        return this;
      }

      public RequestContextBuilder withAccountId(String accountId) {
        this.accountId = accountId;
        return this;
      }

      public RequestContextBuilder withStage(String stage) {
        this.stage = stage;
        return this;
      }

      public RequestContextBuilder withApiId(String apiId) {
        this.apiId = apiId;
        return this;
      }

      public RequestContextBuilder withDomainName(String domainName) {
        this.domainName = domainName;
        return this;
      }

      public RequestContextBuilder withDomainPrefix(String domainPrefix) {
        this.domainPrefix = domainPrefix;
        return this;
      }

      public RequestContextBuilder withTime(String time) {
        this.time = time;
        return this;
      }

      public RequestContextBuilder withTimeEpoch(long timeEpoch) {
        this.timeEpoch = timeEpoch;
        return this;
      }

      public RequestContextBuilder withHttp(Http http) {
        this.http = http;
        return this;
      }

      public RequestContextBuilder withAuthorizer(Authorizer authorizer) {
        this.authorizer = authorizer;
        return this;
      }

      public RequestContextBuilder withRequestId(String requestId) {
        this.requestId = requestId;
        return this;
      }

      public RequestContext build() {
        return new RequestContext(routeKey, accountId, stage, apiId, domainName, domainPrefix, time, timeEpoch, http, authorizer, requestId);
      }
    }

    public static class Authorizer {
      private JWT jwt;
      private Map<String, Object> lambda;
      private IAM iam;

      public Authorizer() {}

      public Authorizer(JWT jwt, Map<String, Object> lambda, IAM iam) {
        this.jwt = jwt;
        this.lambda = lambda;
        this.iam = iam;
      }

      public static AuthorizerBuilder builder() {
        return new AuthorizerBuilder();
      }

      public JWT getJwt() {
        return jwt;
      }

      public void setJwt(JWT jwt) {
        this.jwt = jwt;
      }

      public Map<String, Object> getLambda() {
        return lambda;
      }

      public void setLambda(Map<String, Object> lambda) {
        this.lambda = lambda;
      }

      public IAM getIam() {
        return iam;
      }

      public void setIam(IAM iam) {
        this.iam = iam;
      }

      @Override
      public boolean equals(Object obj) {
        if (this == obj) return true;
        if (!(obj instanceof Authorizer)) return false;
        Authorizer o = (Authorizer) obj;
        return Objects.equals(jwt, o.jwt) && Objects.equals(lambda, o.lambda) && Objects.equals(iam, o.iam);
      }

      @Override
      public int hashCode() {
        return Objects.hash(jwt, lambda, iam);
      }

      @Override
      public String toString() {
        return "Authorizer(" + "jwt=" + jwt + ", " + "lambda=" + lambda + ", " + "iam=" + iam + ")";
      }

      /** Lombok's builder shape: {@code Authorizer.builder().withX(..).build()}. */
      public static class AuthorizerBuilder {
        private JWT jwt;
        private Map<String, Object> lambda;
        private IAM iam;

        AuthorizerBuilder() {}

        public AuthorizerBuilder withJwt(JWT jwt) {
          this.jwt = jwt;
          return this;
        }

        public AuthorizerBuilder withLambda(Map<String, Object> lambda) {
          this.lambda = lambda;
          return this;
        }

        public AuthorizerBuilder withIam(IAM iam) {
          this.iam = iam;
          return this;
        }

        public Authorizer build() {
          return new Authorizer(jwt, lambda, iam);
        }
      }

      public static class JWT {
        private Map<String, String> claims;
        private List<String> scopes;

        public JWT() {}

        public JWT(Map<String, String> claims, List<String> scopes) {
          this.claims = claims;
          this.scopes = scopes;
        }

        public static JWTBuilder builder() {
          return new JWTBuilder();
        }

        public Map<String, String> getClaims() {
          return claims;
        }

        public void setClaims(Map<String, String> claims) {
          this.claims = claims;
        }

        public List<String> getScopes() {
          return scopes;
        }

        public void setScopes(List<String> scopes) {
          this.scopes = scopes;
        }

        @Override
        public boolean equals(Object obj) {
          if (this == obj) return true;
          if (!(obj instanceof JWT)) return false;
          JWT o = (JWT) obj;
          return Objects.equals(claims, o.claims) && Objects.equals(scopes, o.scopes);
        }

        @Override
        public int hashCode() {
          return Objects.hash(claims, scopes);
        }

        @Override
        public String toString() {
          return "JWT(" + "claims=" + claims + ", " + "scopes=" + scopes + ")";
        }

        /** Lombok's builder shape: {@code JWT.builder().withX(..).build()}. */
        public static class JWTBuilder {
          private Map<String, String> claims;
          private List<String> scopes;

          JWTBuilder() {}

          public JWTBuilder withClaims(Map<String, String> claims) {
            this.claims = claims;
            return this;
          }

          public JWTBuilder withScopes(List<String> scopes) {
            this.scopes = scopes;
            return this;
          }

          public JWT build() {
            return new JWT(claims, scopes);
          }
        }
      }
    }

    public static class Http {
      private String method;
      private String path;
      private String protocol;
      private String sourceIp;
      private String userAgent;

      public Http() {}

      public Http(String method, String path, String protocol, String sourceIp, String userAgent) {
        this.method = method;
        this.path = path;
        this.protocol = protocol;
        this.sourceIp = sourceIp;
        this.userAgent = userAgent;
      }

      public static HttpBuilder builder() {
        return new HttpBuilder();
      }

      public String getMethod() {
        return method;
      }

      public void setMethod(String method) {
        this.method = method;
      }

      public String getPath() {
        return path;
      }

      public void setPath(String path) {
        this.path = path;
      }

      public String getProtocol() {
        return protocol;
      }

      public void setProtocol(String protocol) {
        this.protocol = protocol;
      }

      public String getSourceIp() {
        return sourceIp;
      }

      public void setSourceIp(String sourceIp) {
        this.sourceIp = sourceIp;
      }

      public String getUserAgent() {
        return userAgent;
      }

      public void setUserAgent(String userAgent) {
        this.userAgent = userAgent;
      }

      @Override
      public boolean equals(Object obj) {
        if (this == obj) return true;
        if (!(obj instanceof Http)) return false;
        Http o = (Http) obj;
        return Objects.equals(method, o.method) && Objects.equals(path, o.path) && Objects.equals(protocol, o.protocol) && Objects.equals(sourceIp, o.sourceIp) && Objects.equals(userAgent, o.userAgent);
      }

      @Override
      public int hashCode() {
        return Objects.hash(method, path, protocol, sourceIp, userAgent);
      }

      @Override
      public String toString() {
        return "Http(" + "method=" + method + ", " + "path=" + path + ", " + "protocol=" + protocol + ", " + "sourceIp=" + sourceIp + ", " + "userAgent=" + userAgent + ")";
      }

      /** Lombok's builder shape: {@code Http.builder().withX(..).build()}. */
      public static class HttpBuilder {
        private String method;
        private String path;
        private String protocol;
        private String sourceIp;
        private String userAgent;

        HttpBuilder() {}

        public HttpBuilder withMethod(String method) {
          this.method = method;
          return this;
        }

        public HttpBuilder withPath(String path) {
          this.path = path;
          return this;
        }

        public HttpBuilder withProtocol(String protocol) {
          this.protocol = protocol;
          return this;
        }

        public HttpBuilder withSourceIp(String sourceIp) {
          this.sourceIp = sourceIp;
          return this;
        }

        public HttpBuilder withUserAgent(String userAgent) {
          this.userAgent = userAgent;
          return this;
        }

        public Http build() {
          return new Http(method, path, protocol, sourceIp, userAgent);
        }
      }
    }

    public static class IAM {
      private String accessKey;
      private String accountId;
      private String callerId;
      private CognitoIdentity cognitoIdentity;
      private String principalOrgId;
      private String userArn;
      private String userId;

      public IAM() {}

      public IAM(
          String accessKey,
          String accountId,
          String callerId,
          CognitoIdentity cognitoIdentity,
          String principalOrgId,
          String userArn,
          String userId) {
        this.accessKey = accessKey;
        this.accountId = accountId;
        this.callerId = callerId;
        this.cognitoIdentity = cognitoIdentity;
        this.principalOrgId = principalOrgId;
        this.userArn = userArn;
        this.userId = userId;
      }

      public static IAMBuilder builder() {
        return new IAMBuilder();
      }

      public String getAccessKey() {
        return accessKey;
      }

      public void setAccessKey(String accessKey) {
        this.accessKey = accessKey;
      }

      public String getAccountId() {
        return accountId;
      }

      public void setAccountId(String accountId) {
        this.accountId = accountId;
      }

      public String getCallerId() {
        return callerId;
      }

      public void setCallerId(String callerId) {
        this.callerId = callerId;
      }

      public CognitoIdentity getCognitoIdentity() {
        return cognitoIdentity;
      }

      public void setCognitoIdentity(CognitoIdentity cognitoIdentity) {
        this.cognitoIdentity = cognitoIdentity;
      }

      public String getPrincipalOrgId() {
        return principalOrgId;
      }

      public void setPrincipalOrgId(String principalOrgId) {
        this.principalOrgId = principalOrgId;
      }

      public String getUserArn() {
        return userArn;
      }

      public void setUserArn(String userArn) {
        this.userArn = userArn;
      }

      public String getUserId() {
        return userId;
      }

      public void setUserId(String userId) {
        this.userId = userId;
      }

      @Override
      public boolean equals(Object obj) {
        if (this == obj) return true;
        if (!(obj instanceof IAM)) return false;
        IAM o = (IAM) obj;
        return Objects.equals(accessKey, o.accessKey) && Objects.equals(accountId, o.accountId) && Objects.equals(callerId, o.callerId) && Objects.equals(cognitoIdentity, o.cognitoIdentity) && Objects.equals(principalOrgId, o.principalOrgId) && Objects.equals(userArn, o.userArn) && Objects.equals(userId, o.userId);
      }

      @Override
      public int hashCode() {
        return Objects.hash(accessKey, accountId, callerId, cognitoIdentity, principalOrgId, userArn, userId);
      }

      @Override
      public String toString() {
        return "IAM(" + "accessKey=" + accessKey + ", " + "accountId=" + accountId + ", " + "callerId=" + callerId + ", " + "cognitoIdentity=" + cognitoIdentity + ", " + "principalOrgId=" + principalOrgId + ", " + "userArn=" + userArn + ", " + "userId=" + userId + ")";
      }

      /** Lombok's builder shape: {@code IAM.builder().withX(..).build()}. */
      public static class IAMBuilder {
        private String accessKey;
        private String accountId;
        private String callerId;
        private CognitoIdentity cognitoIdentity;
        private String principalOrgId;
        private String userArn;
        private String userId;

        IAMBuilder() {}

        public IAMBuilder withAccessKey(String accessKey) {
          this.accessKey = accessKey;
          return this;
        }

        public IAMBuilder withAccountId(String accountId) {
          this.accountId = accountId;
          return this;
        }

        public IAMBuilder withCallerId(String callerId) {
          this.callerId = callerId;
          return this;
        }

        public IAMBuilder withCognitoIdentity(CognitoIdentity cognitoIdentity) {
          this.cognitoIdentity = cognitoIdentity;
          return this;
        }

        public IAMBuilder withPrincipalOrgId(String principalOrgId) {
          this.principalOrgId = principalOrgId;
          return this;
        }

        public IAMBuilder withUserArn(String userArn) {
          this.userArn = userArn;
          return this;
        }

        public IAMBuilder withUserId(String userId) {
          this.userId = userId;
          return this;
        }

        public IAM build() {
          return new IAM(accessKey, accountId, callerId, cognitoIdentity, principalOrgId, userArn, userId);
        }
      }
    }

    public static class CognitoIdentity {
      private List<String> amr;
      private String identityId;
      private String identityPoolId;

      public CognitoIdentity() {}

      public CognitoIdentity(List<String> amr, String identityId, String identityPoolId) {
        this.amr = amr;
        this.identityId = identityId;
        this.identityPoolId = identityPoolId;
      }

      public static CognitoIdentityBuilder builder() {
        return new CognitoIdentityBuilder();
      }

      public List<String> getAmr() {
        return amr;
      }

      public void setAmr(List<String> amr) {
        this.amr = amr;
      }

      public String getIdentityId() {
        return identityId;
      }

      public void setIdentityId(String identityId) {
        this.identityId = identityId;
      }

      public String getIdentityPoolId() {
        return identityPoolId;
      }

      public void setIdentityPoolId(String identityPoolId) {
        this.identityPoolId = identityPoolId;
      }

      @Override
      public boolean equals(Object obj) {
        if (this == obj) return true;
        if (!(obj instanceof CognitoIdentity)) return false;
        CognitoIdentity o = (CognitoIdentity) obj;
        return Objects.equals(amr, o.amr) && Objects.equals(identityId, o.identityId) && Objects.equals(identityPoolId, o.identityPoolId);
      }

      @Override
      public int hashCode() {
        return Objects.hash(amr, identityId, identityPoolId);
      }

      @Override
      public String toString() {
        return "CognitoIdentity(" + "amr=" + amr + ", " + "identityId=" + identityId + ", " + "identityPoolId=" + identityPoolId + ")";
      }

      /** Lombok's builder shape: {@code CognitoIdentity.builder().withX(..).build()}. */
      public static class CognitoIdentityBuilder {
        private List<String> amr;
        private String identityId;
        private String identityPoolId;

        CognitoIdentityBuilder() {}

        public CognitoIdentityBuilder withAmr(List<String> amr) {
          this.amr = amr;
          return this;
        }

        public CognitoIdentityBuilder withIdentityId(String identityId) {
          this.identityId = identityId;
          return this;
        }

        public CognitoIdentityBuilder withIdentityPoolId(String identityPoolId) {
          this.identityPoolId = identityPoolId;
          return this;
        }

        public CognitoIdentity build() {
          return new CognitoIdentity(amr, identityId, identityPoolId);
        }
      }
    }
  }
}

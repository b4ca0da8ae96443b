package dev.kiln.shim;

import com.amazonaws.services.lambda.runtime.Client;
import com.amazonaws.services.lambda.runtime.ClientContext;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The ClientContext of an Invoke API call's {@code X-Amz-Client-Context}: base64 of a JSON object
 * {@code {"client": {"installation_id", "app_title", "app_version_name", "app_version_code",
 * "app_package_name"}, "custom": {...}, "env": {...}}} (AWS Lambda API Reference, "Invoke"; the
 * field names of aws-lambda-java-runtime-interface-client's ClientContextImpl).
 */
final class InvokeClientContext implements ClientContext {
  private final Client client;
  private final Map<String, String> custom;
  private final Map<String, String> environment;

  private InvokeClientContext(Client client, Map<String, String> custom, Map<String, String> environment) {
    this.client = client;
    this.custom = custom;
    this.environment = environment;
  }

  /** The header's client context; null without one; IllegalArgumentException if it is not base64 of a JSON object. */
  static ClientContext parse(String header) {
    if (header == null || header.isBlank()) return null;
    Object tree = Json.parse(new String(Base64.getMimeDecoder().decode(header.trim()), StandardCharsets.UTF_8));
    if (!(tree instanceof Map)) throw new IllegalArgumentException("not a JSON object");
    Map<?, ?> map = (Map<?, ?>) tree;
    Client client = null;
    if (map.get("client") instanceof Map) {
      Map<?, ?> c = (Map<?, ?>) map.get("client");
      client = new InvokeClient(
          text(c.get("installation_id")), text(c.get("app_title")), text(c.get("app_version_name")),
          text(c.get("app_version_code")), text(c.get("app_package_name")));
    }
    return new InvokeClientContext(client, strings(map.get("custom")), strings(map.get("env")));
  }

  private static String text(Object value) {
    return value == null ? null : value.toString();
  }

  private static Map<String, String> strings(Object value) {
    if (!(value instanceof Map)) return null;
    Map<String, String> out = new LinkedHashMap<>();
    for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) out.put(String.valueOf(e.getKey()), text(e.getValue()));
    return Collections.unmodifiableMap(out);
  }

  @Override public Client getClient() { return client; }
  @Override public Map<String, String> getCustom() { return custom; }
  @Override public Map<String, String> getEnvironment() { return environment; }

  /** Package-private, not private: the shim's serializer reads its getters reflectively. */
  static final class InvokeClient implements Client {
    private final String installationId;
    private final String appTitle;
    private final String appVersionName;
    private final String appVersionCode;
    private final String appPackageName;

    InvokeClient(String installationId, String appTitle, String appVersionName, String appVersionCode,
        String appPackageName) {
      this.installationId = installationId;
      this.appTitle = appTitle;
      this.appVersionName = appVersionName;
      this.appVersionCode = appVersionCode;
      this.appPackageName = appPackageName;
    }

    @Override public String getInstallationId() { return installationId; }
    @Override public String getAppTitle() { return appTitle; }
    @Override public String getAppVersionName() { return appVersionName; }
    @Override public String getAppVersionCode() { return appVersionCode; }
    @Override public String getAppPackageName() { return appPackageName; }
  }
}

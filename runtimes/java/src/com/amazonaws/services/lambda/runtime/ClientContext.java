package com.amazonaws.services.lambda.runtime;

import java.util.Map;

/** The client application's configuration and environment, as the AWS Mobile SDK sends it. */
public interface ClientContext {
  Client getClient();

  /** Custom values the client application set (mutable, not thread-safe). */
  Map<String, String> getCustom();

  /** Environment the mobile SDK reported. */
  Map<String, String> getEnvironment();
}

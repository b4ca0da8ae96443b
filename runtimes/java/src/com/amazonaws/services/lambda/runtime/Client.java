package com.amazonaws.services.lambda.runtime;

/** The client application that invoked the function (AWS Mobile SDK). */
public interface Client {
  String getInstallationId();

  String getAppTitle();

  String getAppVersionName();

  String getAppVersionCode();

  String getAppPackageName();
}

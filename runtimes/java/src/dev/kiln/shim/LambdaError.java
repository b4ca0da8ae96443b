package dev.kiln.shim;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A handler's exception as Lambda's Java runtime reports it (aws-lambda-java-runtime-interface-
 * client): the runtime's own frames cut from every stack trace (UserFault.filterStackTrace), the
 * invoke answer {@code {"errorMessage","errorType","stackTrace":[...]}} (LambdaErrorConverter),
 * and the log text {@code "<message>: <type>\n<printStackTrace>\n"} (UserFault.reportableError).
 */
final class LambdaError {
  private static final String SHIM_PACKAGE = "dev.kiln.shim.";

  private LambdaError() {}

  /** The error JSON of a raw invoke that threw. */
  static Map<String, Object> json(Throwable t) {
    filter(t);
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("errorMessage", message(t));
    out.put("errorType", t.getClass().getName());
    List<Object> trace = new ArrayList<>();
    for (StackTraceElement e : t.getStackTrace()) trace.add(e.toString());
    out.put("stackTrace", trace);
    return out;
  }

  /** The log text of a handler that threw. */
  static String logText(Throwable t) {
    filter(t);
    StringWriter sw = new StringWriter();
    t.printStackTrace(new PrintWriter(sw));
    return message(t) + ": " + t.getClass().getName() + "\n" + sw + "\n";
  }

  private static String message(Throwable t) {
    String m = t.getLocalizedMessage();
    return m == null ? t.getClass().getName() : m;
  }

  /** Cuts each trace (causes and suppressed too) at its first frame of the shim. */
  static <T extends Throwable> T filter(T t) {
    filter(t, Collections.newSetFromMap(new IdentityHashMap<>()));
    return t;
  }

  private static void filter(Throwable t, Set<Throwable> seen) {
    if (t == null || !seen.add(t)) return;
    StackTraceElement[] trace = t.getStackTrace();
    for (int i = 0; i < trace.length; i++) {
      if (trace[i].getClassName().startsWith(SHIM_PACKAGE)) {
        StackTraceElement[] cut = new StackTraceElement[i];
        System.arraycopy(trace, 0, cut, 0, i);
        t.setStackTrace(cut);
        break;
      }
    }
    filter(t.getCause(), seen);
    for (Throwable s : t.getSuppressed()) filter(s, seen);
  }
}

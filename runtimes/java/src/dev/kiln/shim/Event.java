package dev.kiln.shim;

/**
 * An invocation's event as the shim has it: a tree it built (an API Gateway event) or the JSON
 * bytes a raw invoke carried. Each form is made from the other only when a handler needs it.
 */
final class Event {
  private Object tree;
  private byte[] json;
  private boolean hasTree;

  private Event() {}

  static Event ofTree(Object tree) {
    Event e = new Event();
    e.tree = tree;
    e.hasTree = true;
    return e;
  }

  static Event ofJson(byte[] json) {
    Event e = new Event();
    e.json = json;
    return e;
  }

  /** The parsed event; an empty raw body is a null event. Throws on JSON that does not parse. */
  Object tree() {
    if (!hasTree) {
      tree = json.length == 0 ? null : Json.parse(json);
      hasTree = true;
    }
    return tree;
  }

  byte[] json() {
    if (json == null) json = Json.bytes(tree);
    return json;
  }
}

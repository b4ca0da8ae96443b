package dev.kiln.shim;

/** Which function this instance serves, from POST /init (or the environment outside Kiln). */
final class FunctionInfo {
  final String name;
  final String version;
  final int memoryMb;

  FunctionInfo(String name, String version, int memoryMb) {
    this.name = name;
    this.version = version;
    this.memoryMb = memoryMb;
  }
}

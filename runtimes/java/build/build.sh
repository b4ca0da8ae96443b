#!/bin/sh
# Kiln's Java build step. It runs in the java builder container (docs/DESIGN.md §8), never
# on the host. In: the bundle read-only at /src (the working dir), and what Kiln wrote at
# /kiln: `jars` (the bundle's jars, one path per line) and `javac.args` (javac's argument
# file: Kiln's options, then every source as a quoted "./path", so no name from the bundle
# is ever read as an option or an @file). Out: /out/fn/lib/*.jar, /out/fn/classes and the
# bundle's other files.
set -eu
mkdir -p /out/fn
if [ -s /kiln/jars ]; then
  mkdir -p /out/fn/lib
  while IFS= read -r jar; do
    cp -- "./$jar" /out/fn/lib/
  done < /kiln/jars
fi
# Every other file of the bundle (resources, META-INF/services, prebuilt classes) ships as it is,
# layout kept, as Lambda's /var/task holds the zip; the shim's class path has /fn/classes, /fn
# and a Maven layout's /fn/src/main/resources. find names each "./path": never an option.
find . -type f ! -name '*.java' ! -name '*.jar' -exec cp --parents -t /out/fn -- {} +
if [ -s /kiln/javac.args ]; then
  mkdir -p /out/fn/classes
  # One short JVM: no JIT tiers past C1, the serial GC, no perf data file.
  exec javac -J-XX:TieredStopAtLevel=1 -J-XX:+UseSerialGC -J-XX:-UsePerfData -J-Xshare:auto @/kiln/javac.args
fi

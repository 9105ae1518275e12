# Sourced by ./jbert and scripts/*: finds a JDK 25 or newer and exports JAVA_HOME to it.
# Looks at $JAVA_HOME, then `java` on PATH, then /usr/lib/jvm/*25* and the rest of /usr/lib/jvm.
# JDK 25 is often installed but not the default java, so the search does not stop at the first java.

jbert_java_major() {
    "$1/bin/java" -version 2>&1 | sed -n '1s/^[^"]*"\([0-9]*\).*/\1/p'
}

jbert_find_jdk() {
    local candidate path_java=""
    if command -v java >/dev/null 2>&1; then
        path_java=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
    fi
    for candidate in "${JAVA_HOME:-}" "$path_java" /usr/lib/jvm/*25* /usr/lib/jvm/*; do
        [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] && [ -x "$candidate/bin/javac" ] || continue
        local major
        major=$(jbert_java_major "$candidate")
        if [ -n "$major" ] && [ "$major" -ge 25 ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if ! JAVA_HOME=$(jbert_find_jdk); then
    echo "jbert: needs a JDK 25 or newer; none found in \$JAVA_HOME, on PATH or in /usr/lib/jvm (install Temurin 25, or set JAVA_HOME)" >&2
    exit 2
fi
export JAVA_HOME
# Maven's own libraries (guava) touch sun.misc.Unsafe, which JDK 25 warns about on every build
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"

jbert_need_maven() {
    command -v mvn >/dev/null 2>&1 && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "jbert: installing Maven with apt-get" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >/dev/null
    else
        echo "jbert: needs Apache Maven (mvn) to build; install it (e.g. apt-get install maven)" >&2
        exit 2
    fi
}

#!/usr/bin/env bash
# Installs what surge-monitor needs on a fresh Debian machine, and nothing twice:
#   - Debian packages: Prometheus, Alertmanager (+ promtool, amtool), Chromium (headless, for the
#     scorecard report's test), Java 17+ and Maven if missing;
#   - the Apache Kafka broker jars from Maven Central (deploy/kafka/pom.xml);
#   - a project virtualenv (.venv) with the package and its dev tools.
# Idempotent: each step checks before it installs. Run by `make setup` (and so by demo and test).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

say() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root to run: $* (install it yourself or run as root)"; exit 1; fi
}

missing=()
command -v prometheus >/dev/null || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
command -v chromium >/dev/null || missing+=(chromium)  # renders the scorecard HTML in its test
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v docker-compose >/dev/null || missing+=(docker-compose)  # `config` check of deploy/compose.yaml
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
if [ "${java_major:-0}" -lt 17 ]; then
  say "Java ${java_major:-?} found; Kafka 4 needs Java 17+ (apt-get install openjdk-17-jre-headless)"
  exit 1
fi

if ! ls deploy/kafka/target/dependency/kafka_2.13-*.jar >/dev/null 2>&1; then
  say "resolving the Kafka broker jars from Maven Central"
  mvn -q -f deploy/kafka/pom.xml dependency:copy-dependencies
fi

stamp="$VENV/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  say "creating $VENV and installing surge-monitor with its dev tools"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null
  "$VENV/bin/pip" install -q -e '.[dev]'
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi
say "ready"

#!/usr/bin/env bash
# Start a local PostgreSQL (Debian's package) for the storage tests of the rating app and print
# the URL to export as FAIRTWIN_TEST_POSTGRES_URL; prints nothing when no server can be started
# here (the PostgreSQL tests are then skipped with that reason).
set -uo pipefail
command -v pg_lsclusters >/dev/null 2>&1 || {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends postgresql >/dev/null 2>&1 ||
      { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends postgresql >/dev/null 2>&1; }
  fi
}
command -v pg_lsclusters >/dev/null 2>&1 || exit 0
read -r ver cluster _ < <(pg_lsclusters -h | head -1)
[ -n "${ver:-}" ] || exit 0
pg_ctlcluster "$ver" "$cluster" start >/dev/null 2>&1 || true
for _ in $(seq 50); do
  su postgres -c "psql -tAc 'select 1'" >/dev/null 2>&1 && break
  sleep 0.2
done
su postgres -c "psql -tAc \"select 1 from pg_roles where rolname='fairtwin'\"" 2>/dev/null | grep -q 1 ||
  su postgres -c "psql -c \"create role fairtwin login password 'fairtwin'\"" >/dev/null 2>&1
su postgres -c "psql -tAc \"select 1 from pg_database where datname='fairtwin_test'\"" 2>/dev/null | grep -q 1 ||
  su postgres -c "createdb -O fairtwin fairtwin_test" >/dev/null 2>&1
port=$(pg_lsclusters -h | head -1 | awk '{print $3}')
echo "postgresql+psycopg://fairtwin:fairtwin@127.0.0.1:${port}/fairtwin_test"

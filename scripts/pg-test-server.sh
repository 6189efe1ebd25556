#!/usr/bin/env bash
# Prepare the local PostgreSQL server the tests in tests/postgres/ run against.
#
# Run as root (CI's .ci/run and developers). Idempotent: safe to run again at any time.
#   - installs Debian's `postgresql` if no server binaries are present
#   - starts the newest installed cluster named `main` (creating it if none exists)
#   - gives the superuser `postgres` a password for TCP logins
#   - makes a throwaway CA and a server certificate (CN/SAN localhost, 127.0.0.1) and turns TLS on
#   - checks a verified TLS login works, then prints the settings the tests read
#
# Overrides: AURORA_RESTORE_TEST_PG_PASSWORD (default postgres),
#            AURORA_RESTORE_PG_TLS_DIR (default /var/lib/postgresql/aurora-restore-tls).
set -euo pipefail

PG_PASSWORD="${AURORA_RESTORE_TEST_PG_PASSWORD:-postgres}"
TLS_DIR="${AURORA_RESTORE_PG_TLS_DIR:-/var/lib/postgresql/aurora-restore-tls}"
CLUSTER=main

log() { printf 'pg-test-server: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and manages the cluster)"

install_postgres() {
    if compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null && command -v pg_lsclusters >/dev/null; then
        return
    fi
    log "installing postgresql (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
}

newest_version() {
    # shellcheck disable=SC2012
    ls /usr/lib/postgresql | sort -V | tail -n 1
}

cluster_version() {
    pg_lsclusters -h | awk -v c="$CLUSTER" '$2 == c {print $1}' | sort -V | tail -n 1
}

start_cluster() {
    local version status
    version="$(cluster_version)"
    if [ -z "$version" ]; then
        version="$(newest_version)"
        log "creating cluster $version $CLUSTER"
        pg_createcluster "$version" "$CLUSTER" >/dev/null
    fi
    status="$(pg_lsclusters -h | awk -v v="$version" -v c="$CLUSTER" '$1 == v && $2 == c {print $4}')"
    if [ "$status" != "online" ]; then
        log "starting cluster $version $CLUSTER"
        pg_ctlcluster "$version" "$CLUSTER" start
    fi
    PG_VERSION="$version"
    PG_PORT="$(pg_lsclusters -h | awk -v v="$version" -v c="$CLUSTER" '$1 == v && $2 == c {print $3}')"
    for _ in $(seq 1 60); do
        if pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; then return; fi
        sleep 0.5
    done
    die "cluster $version $CLUSTER did not accept connections on 127.0.0.1:$PG_PORT"
}

psql_admin() {
    # Peer authentication over the Unix socket: no password needed as the postgres OS user.
    # `cd /`: the caller's directory (a CI checkout) may be unreadable for that user.
    su postgres -c "cd / && psql -X -q -v ON_ERROR_STOP=1 -p $PG_PORT -d postgres"
}

set_password() {
    # A psql variable keeps the password out of the command line and quotes it (:'pw').
    printf '%s\n' "ALTER ROLE postgres WITH PASSWORD :'pw';" \
        | PW="$PG_PASSWORD" su postgres -c "cd / && psql -X -q -v ON_ERROR_STOP=1 -p $PG_PORT -d postgres -v pw=\"\$PW\"" \
        >/dev/null
}

certificates_valid() {
    local f
    for f in ca.pem ca.key server.crt server.key; do
        [ -s "$TLS_DIR/$f" ] || return 1
    done
    openssl verify -CAfile "$TLS_DIR/ca.pem" "$TLS_DIR/server.crt" >/dev/null 2>&1 || return 1
    # Regenerate well before expiry so a long-lived dev box never serves an expired certificate.
    openssl x509 -checkend 604800 -noout -in "$TLS_DIR/server.crt" >/dev/null || return 1
    openssl x509 -checkend 604800 -noout -in "$TLS_DIR/ca.pem" >/dev/null || return 1
}

make_certificates() {
    install -d -m 0755 -o postgres -g postgres "$TLS_DIR"
    if certificates_valid; then
        log "reusing certificates in $TLS_DIR"
        return
    fi
    log "creating throwaway CA and server certificate in $TLS_DIR"
    local work
    work="$(mktemp -d)"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -subj "/CN=aurora-restore throwaway test CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" \
        -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
    cat >"$work/server.ext" <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EOF
    openssl x509 -req -sha256 -days 825 -in "$work/server.csr" \
        -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
        -extfile "$work/server.ext" -out "$work/server.crt" 2>/dev/null
    install -m 0644 -o postgres -g postgres "$work/ca.pem" "$TLS_DIR/ca.pem"
    install -m 0600 -o postgres -g postgres "$work/ca.key" "$TLS_DIR/ca.key"
    install -m 0644 -o postgres -g postgres "$work/server.crt" "$TLS_DIR/server.crt"
    install -m 0600 -o postgres -g postgres "$work/server.key" "$TLS_DIR/server.key"
    rm -rf "$work"
}

enable_tls() {
    psql_admin <<EOF >/dev/null
ALTER SYSTEM SET ssl = on;
ALTER SYSTEM SET ssl_cert_file = '$TLS_DIR/server.crt';
ALTER SYSTEM SET ssl_key_file = '$TLS_DIR/server.key';
SELECT pg_reload_conf();
EOF
}

check_tls_login() {
    # The reload is asynchronous; retry briefly until a verified TLS login succeeds.
    local conninfo="host=localhost port=$PG_PORT dbname=postgres user=postgres sslmode=verify-full sslrootcert=$TLS_DIR/ca.pem"
    local query="SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    for _ in $(seq 1 20); do
        if [ "$(PGPASSWORD="$PG_PASSWORD" psql -X -At "$conninfo" -c "$query" 2>/dev/null)" = "t" ]; then
            return
        fi
        sleep 0.5
    done
    die "a verified TLS login to 127.0.0.1:$PG_PORT failed; see /var/log/postgresql/postgresql-$PG_VERSION-$CLUSTER.log"
}

install_postgres
make_certificates  # first: a cluster already set to ssl=on does not start without them
start_cluster
set_password
enable_tls
check_tls_login

log "PostgreSQL $PG_VERSION ($CLUSTER) ready on 127.0.0.1:$PG_PORT with TLS"
cat <<EOF
export AURORA_RESTORE_TEST_PG_HOST=127.0.0.1
export AURORA_RESTORE_TEST_PG_PORT=$PG_PORT
export AURORA_RESTORE_TEST_PG_USER=postgres
export AURORA_RESTORE_TEST_PG_PASSWORD=$PG_PASSWORD
export AURORA_RESTORE_TEST_PG_CA=$TLS_DIR/ca.pem
EOF

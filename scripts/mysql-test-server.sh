#!/usr/bin/env bash
# Prepare the local MySQL-compatible server the aurora-mysql database tests run against
# (Debian's MariaDB: the package registry offers no Oracle MySQL; docs/mysql.md says where
# MariaDB differs from Aurora MySQL).
#
# Run as root (CI's .ci/run via scripts/test.sh, and developers). Idempotent: safe to run again.
#   - installs Debian's `mariadb-server` if no server binary is present
#   - makes a throwaway CA and a server certificate (CN/SAN localhost, 127.0.0.1)
#   - configures the server: 127.0.0.1 only, port 3306 (or the next free one when 3306 is
#     taken by something else), TLS with that certificate; starts it (or restarts it when the
#     configuration changed)
#   - creates the test admin (all privileges, like the RDS master user) with a password
#   - checks a verified TLS login works, then prints the settings the tests read
#
# Overrides: AURORA_RESTORE_TEST_MYSQL_USER (default aurora_test),
#            AURORA_RESTORE_TEST_MYSQL_PASSWORD (default mysql),
#            AURORA_RESTORE_TEST_MYSQL_PORT (default: 3306, or the next free port),
#            AURORA_RESTORE_MYSQL_TLS_DIR (default /etc/mysql/aurora-restore-tls).
set -euo pipefail

MY_USER="${AURORA_RESTORE_TEST_MYSQL_USER:-aurora_test}"
MY_PASSWORD="${AURORA_RESTORE_TEST_MYSQL_PASSWORD:-mysql}"
TLS_DIR="${AURORA_RESTORE_MYSQL_TLS_DIR:-/etc/mysql/aurora-restore-tls}"
CONF=/etc/mysql/mariadb.conf.d/99-aurora-restore-test.cnf
LOG_FILE=/var/log/mysql/aurora-restore-test.err

log() { printf 'mysql-test-server: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and manages the server)"

server_binary() {
    local b
    for b in /usr/sbin/mariadbd /usr/sbin/mysqld; do
        [ -x "$b" ] && { echo "$b"; return; }
    done
    return 1
}

install_mariadb() {
    if server_binary >/dev/null && command -v mariadb >/dev/null; then
        return
    fi
    log "installing mariadb-server (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # The package's own start may fail without an init system (containers): we start it below.
    apt-get install -y -qq mariadb-server mariadb-client >/dev/null || true
    server_binary >/dev/null || die "mariadb-server did not install"
}

certificates_valid() {
    local f
    for f in ca.pem ca.key server.crt server.key; do
        [ -s "$TLS_DIR/$f" ] || return 1
    done
    openssl verify -CAfile "$TLS_DIR/ca.pem" "$TLS_DIR/server.crt" >/dev/null 2>&1 || return 1
    openssl x509 -checkend 604800 -noout -in "$TLS_DIR/server.crt" >/dev/null || return 1
    openssl x509 -checkend 604800 -noout -in "$TLS_DIR/ca.pem" >/dev/null || return 1
}

make_certificates() {
    install -d -m 0755 "$TLS_DIR"
    if certificates_valid; then
        log "reusing certificates in $TLS_DIR"
        return
    fi
    log "creating throwaway CA and server certificate in $TLS_DIR"
    local work
    work="$(mktemp -d)"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -subj "/CN=aurora-restore throwaway MySQL test CA" \
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
    install -m 0644 "$work/ca.pem" "$TLS_DIR/ca.pem"
    install -m 0600 "$work/ca.key" "$TLS_DIR/ca.key"
    install -m 0644 "$work/server.crt" "$TLS_DIR/server.crt"
    install -m 0600 -o mysql -g mysql "$work/server.key" "$TLS_DIR/server.key"
    rm -rf "$work"
}

running() {
    mariadb-admin --no-defaults --protocol=socket -uroot ping >/dev/null 2>&1
}

listening_port_owner() {
    # The command listening on port $1, if any ("unknown" when something listens but `ss`
    # is not installed to say what; nothing when the port is free).
    if command -v ss >/dev/null; then
        ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:(("\([^"]*\)".*/\1/p' | head -n 1
        return 0
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
        if running && [ "$(server_port)" = "$1" ]; then echo mariadbd; else echo unknown; fi
    fi
    return 0
}

server_port() {
    mariadb --no-defaults --protocol=socket -uroot -N -B -e 'SELECT @@port' 2>/dev/null || true
}

configured_port() {
    if [ -f "$CONF" ]; then
        sed -n 's/^port *= *\([0-9]*\)/\1/p' "$CONF" | head -n 1
    fi
}

choose_port() {
    if [ -n "${AURORA_RESTORE_TEST_MYSQL_PORT:-}" ]; then
        MY_PORT="$AURORA_RESTORE_TEST_MYSQL_PORT"
        return
    fi
    local port owner
    port="$(configured_port)"
    port="${port:-3306}"
    while :; do
        owner="$(listening_port_owner "$port")"
        if [ -z "$owner" ] || [ "$owner" = "mariadbd" ] || [ "$owner" = "mysqld" ]; then
            break
        fi
        log "port $port is taken by $owner; trying $((port + 1))"
        port=$((port + 1))
    done
    MY_PORT="$port"
}

write_config() {
    local wanted
    wanted="$(cat <<EOF
# Written by aurora-restore's scripts/mysql-test-server.sh (tests only).
[mariadbd]
bind-address = 127.0.0.1
port = $MY_PORT
ssl-ca = $TLS_DIR/ca.pem
ssl-cert = $TLS_DIR/server.crt
ssl-key = $TLS_DIR/server.key
log-error = $LOG_FILE
max_connections = 200
innodb_flush_log_at_trx_commit = 2
EOF
)"
    CONFIG_CHANGED=0
    if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$wanted" ]; then
        printf '%s\n' "$wanted" >"$CONF"
        CONFIG_CHANGED=1
    fi
    install -d -m 0750 -o mysql -g adm /var/log/mysql
}

start_server() {
    install -d -m 0755 -o mysql -g mysql /run/mysqld
    if running && [ "$CONFIG_CHANGED" -eq 1 ]; then
        log "configuration changed: restarting MariaDB"
        stop_server
    fi
    if ! running; then
        log "starting MariaDB on 127.0.0.1:$MY_PORT"
        if [ -x /etc/init.d/mariadb ]; then
            /etc/init.d/mariadb start >/dev/null 2>&1 || true
        fi
        if ! running; then
            # No init script or it failed: start the server directly.
            (cd / && nohup mariadbd-safe >/dev/null 2>&1 &)
        fi
    fi
    for _ in $(seq 1 120); do
        if running; then return; fi
        sleep 0.5
    done
    die "MariaDB did not start; see $LOG_FILE"
}

stop_server() {
    if [ -x /etc/init.d/mariadb ]; then
        /etc/init.d/mariadb stop >/dev/null 2>&1 || true
    fi
    if running; then
        mariadb-admin --no-defaults --protocol=socket -uroot shutdown >/dev/null 2>&1 || true
    fi
    for _ in $(seq 1 60); do
        running || return 0
        sleep 0.5
    done
    die "MariaDB did not stop"
}

create_admin() {
    # As root over the Unix socket (unix_socket authentication: no password). The password goes
    # through a user variable on stdin, never onto a command line.
    mariadb --no-defaults --protocol=socket -uroot <<EOF
SET @pw = '$(printf '%s' "$MY_PASSWORD" | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g")';
CREATE USER IF NOT EXISTS '$MY_USER'@'%' IDENTIFIED BY 'placeholder';
SET @stmt = CONCAT('ALTER USER ''$MY_USER''@''%'' IDENTIFIED BY ', QUOTE(@pw));
PREPARE s FROM @stmt; EXECUTE s; DEALLOCATE PREPARE s;
GRANT ALL PRIVILEGES ON *.* TO '$MY_USER'@'%' WITH GRANT OPTION;
FLUSH PRIVILEGES;
EOF
}

check_tls_login() {
    local cipher
    for _ in $(seq 1 20); do
        cipher="$(MYSQL_PWD="$MY_PASSWORD" mariadb --no-defaults --protocol=TCP -h 127.0.0.1 \
            -P "$MY_PORT" -u "$MY_USER" --ssl --ssl-ca="$TLS_DIR/ca.pem" \
            --ssl-verify-server-cert -N -B -e "SHOW SESSION STATUS LIKE 'Ssl_cipher'" \
            2>/dev/null | cut -f2)"
        if [ -n "$cipher" ]; then
            return
        fi
        sleep 0.5
    done
    die "a verified TLS login to 127.0.0.1:$MY_PORT failed; see $LOG_FILE"
}

install_mariadb
make_certificates
choose_port
write_config
start_server
create_admin
check_tls_login

VERSION="$(mariadb --no-defaults --protocol=socket -uroot -N -B -e 'SELECT VERSION()')"
log "MariaDB $VERSION ready on 127.0.0.1:$MY_PORT with TLS"
# Shell-quoted: scripts/test.sh evaluates these lines.
printf 'export AURORA_RESTORE_TEST_MYSQL_HOST=%q\n' 127.0.0.1
printf 'export AURORA_RESTORE_TEST_MYSQL_PORT=%q\n' "$MY_PORT"
printf 'export AURORA_RESTORE_TEST_MYSQL_USER=%q\n' "$MY_USER"
printf 'export AURORA_RESTORE_TEST_MYSQL_PASSWORD=%q\n' "$MY_PASSWORD"
printf 'export AURORA_RESTORE_TEST_MYSQL_CA=%q\n' "$TLS_DIR/ca.pem"

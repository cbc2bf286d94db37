#!/usr/bin/env bash
# tests/package.sh: the Debian package end to end (issue 13, doc/install.md). Builds the
# .deb from a copy of the source with dpkg-buildpackage, installs it with dpkg, starts
# it (systemctl where systemd runs the machine; containers and CI have no running
# systemd, so there the classic `courier start` / `esmtpd start`), mails a local user
# on port 25 and finds the message in the Maildir, then dpkg -r and dpkg --purge and
# checks that nothing runs and the files are gone. Needs root. An MTA package that the
# package's Conflicts: mail-transport-agent makes it remove (postfix, installed by
# `make bench`) is installed again at the end. Ends with 'RESULT: N passed, N failed'.
# A full -O2 build: about 3 minutes on an idle 2-core machine. PACKAGE_TEST_CHECK=1 also
# runs the unit tests in the build; PACKAGE_KEEP_DEB=dir keeps the .deb there, and
# PACKAGE_DEB=file tests that .deb instead of building one. Skipped (77) without dpkg.
set -uo pipefail

SRCDIR=${COURIER_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
PKG=courier-mta-cxx
TESTUSER=courier-pkgtest
TESTHOME=/home/$TESTUSER
BUILD_LIMIT=${PACKAGE_BUILD_TIMEOUT:-1800}
passed=0 failed=0 WORK= removed_mtas=() made_user=

ok()   { echo "PASS $*"; passed=$((passed + 1)); }
bad()  { echo "FAIL $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
finish() { echo "RESULT: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }
apt_install() {
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get -o DPkg::Lock::Timeout=300 install -y -q \
        --no-install-recommends "$@" >>"$WORK/apt.log" 2>&1
}

# Processes that run one of the package's programs (also after dpkg deleted the file:
# the link then ends in " (deleted)"). Matched by executable path, not by name, so the
# build-tree instances of parallel tests do not count.
package_processes() {
    local p exe
    for p in /proc/[0-9]*; do
        exe=$(readlink "$p/exe" 2>/dev/null) || continue
        case $exe in
        /usr/lib/courier/*|/usr/sbin/couriertcpd*|/usr/sbin/courier\ *|/usr/sbin/courier) echo "${p#/proc/} $exe";;
        esac
    done
}
# Listeners on port 25 that this test's 127.0.0.1:25 would collide with (the outbound
# tests' peers on other 127.0.x addresses do not).
port25_owner() {
    ss -ltnpH 'sport = :25' 2>/dev/null |
        awk '$4 ~ /^(127\.0\.0\.1|0\.0\.0\.0|\*|\[::\]|\[::ffff:127\.0\.0\.1\]):25$/'
}
systemd_running() { [ -d /run/systemd/system ]; }

stop_installed() {
    if systemd_running; then
        timeout 60 systemctl stop esmtpd esmtpd-msa esmtpd-ssl courier >/dev/null 2>&1
    elif [ -x /usr/sbin/courier ]; then
        for svc in esmtpd esmtpd-msa esmtpd-ssl courier; do
            COURIER_CLASSIC_START=1 timeout 60 /usr/sbin/$svc stop >/dev/null 2>&1
        done
    fi
}

cleanup() {
    trap - EXIT INT TERM
    if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'ok \(installed\|config-files\|half\)'; then
        stop_installed
        timeout 300 dpkg --purge "$PKG" >/dev/null 2>&1 || echo "cleanup: dpkg --purge $PKG failed"
    fi
    package_processes | while read -r pid _; do kill -9 "$pid" 2>/dev/null; done
    if [ -n "$made_user" ]; then userdel "$TESTUSER" >/dev/null 2>&1; rm -rf "$TESTHOME"; fi
    for spec in "${removed_mtas[@]}"; do
        echo "restoring $spec (removed for the Conflicts: mail-transport-agent test)"
        apt_install "$spec" || apt_install "${spec%%=*}" ||
            echo "cleanup: could not reinstall ${spec%%=*}; see $WORK/apt.log"
    done
    if [ -n "$WORK" ]; then
        if [ "$failed" -ne 0 ] && [ -f "$WORK/build.log" ]; then
            echo "---- last lines of the package build log ----"; tail -n 30 "$WORK/build.log"
        fi
        rm -rf "$WORK"
    fi
}

if ! command -v dpkg-buildpackage >/dev/null; then echo "SKIP: not a Debian system"; exit 77; fi
if [ "$(id -u)" != 0 ]; then echo "tests/package.sh: needs root"; bad "run as root"; finish; fi
WORK=$(mktemp -d /tmp/courier-package.XXXXXX)
trap 'cleanup; finish' EXIT
trap 'bad "interrupted"; exit' INT TERM

# ---- preconditions: a machine this test may install an MTA on ----
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'ok installed'; then
    bad "$PKG is already installed here; remove it first"; exit
fi
if [ -e /usr/sbin/courier ] || [ -e /usr/lib/courier ]; then
    bad "a Courier installation not from this package is in /usr; not touching it"; exit
fi
if [ -n "$(port25_owner)" ]; then
    bad "port 25 is taken: $(port25_owner)"; exit
fi

# ---- build ----
missing=$(cd "$SRCDIR" && dpkg-checkbuilddeps 2>&1 | sed -n 's/.*Unmet build dependencies: //p')
if ! command -v dh >/dev/null || [ -n "$missing" ]; then
    deps=$(echo "debhelper $missing" | sed -E 's/\([^)]*\)//g')
    echo "installing build dependencies: $deps"
    # shellcheck disable=SC2086
    apt_install $deps || { apt-get update -q >/dev/null 2>&1; apt_install $deps; } ||
        { bad "install build dependencies ($deps)"; exit; }
fi
# A copy, so that no build product lands in the source tree (other builds use it as
# their VPATH source, which an in-tree configure would break).
mkdir -p "$WORK/src"
tar -C "$SRCDIR" --exclude=./.git --exclude=./build --exclude=./sandbox --exclude=./autom4te.cache \
    --exclude=./config.status --exclude=./config.log --exclude=./Makefile --exclude='*.o' \
    --exclude=./debian/build --exclude="./debian/$PKG" --exclude=./debian/.debhelper \
    --exclude=./debian/files --exclude='./debian/*.substvars' --exclude='./debian/*.log' \
    -cf - . | tar -C "$WORK/src" -xf -
opts="parallel=$(nproc) noautodbgsym"
[ -n "${PACKAGE_TEST_CHECK:-}" ] || opts="$opts nocheck"
start=$(date +%s)
if [ -n "${PACKAGE_DEB:-}" ]; then   # test a .deb built before (PACKAGE_KEEP_DEB below)
    cp "$PACKAGE_DEB" "$WORK/" && status=0 || status=1
else
    (cd "$WORK/src" && DEB_BUILD_OPTIONS=$opts timeout "$BUILD_LIMIT" dpkg-buildpackage -us -uc -b) \
        >"$WORK/build.log" 2>&1
    status=$?
fi
echo "package build: $(( $(date +%s) - start )) s (exit $status)"
deb=$(ls "$WORK"/${PKG}_*.deb 2>/dev/null | head -n 1)
[ -z "${PACKAGE_KEEP_DEB:-}" ] || [ -z "$deb" ] || cp "$deb" "$PACKAGE_KEEP_DEB/"
check "dpkg-buildpackage -us -uc -b builds $PKG" test "$status" -eq 0 -a -n "$deb"
[ -n "$deb" ] || exit
contents=$(dpkg-deb -c "$deb")
for f in ./usr/lib/courier/submit ./usr/lib/courier/courierd ./usr/sbin/esmtpd ./usr/sbin/esmtpd-msa \
         ./usr/sbin/sendmail ./lib/systemd/system/courier.service ./lib/systemd/system/esmtpd.service \
         ./lib/systemd/system/esmtpd-msa.service ./lib/systemd/system/esmtpd-ssl.service \
         ./var/spool/courier/msgs/ ./usr/share/man/man8/courier.8.gz; do
    check "the package holds $f" grep -q " $f\( \|$\)" <<<"$contents"
done
conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles 2>/dev/null)
check "/etc/courier/esmtpd is a conffile" grep -qx /etc/courier/esmtpd <<<"$conffiles"
check "Provides and Conflicts mail-transport-agent" \
    sh -c "dpkg-deb -f '$deb' Provides Conflicts | grep -c mail-transport-agent | grep -qx 2"

# ---- install (an installed MTA conflicts: remove it, reinstall it at the end) ----
while read -r name version; do
    [ -n "$name" ] || continue
    echo "removing $name $version: it provides mail-transport-agent, which $PKG conflicts with"
    if timeout 300 dpkg -r "$name" >>"$WORK/apt.log" 2>&1; then removed_mtas+=("$name=$version")
    else bad "dpkg -r $name (see the dependency problem above)"; tail -n 5 "$WORK/apt.log"; exit; fi
done < <(dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev} ${Provides}\n' 2>/dev/null |
         awk '$3 == "ii" && /mail-transport-agent/ { print $1, $2 }')
check "dpkg -i installs the package" timeout 300 dpkg -i "$deb"
check "the mail user courier exists" id -u courier
check "submit is set-uid courier (4755)" \
    test "$(stat -c '%a %U' /usr/lib/courier/submit 2>&1)" = "4755 courier"
check "cancelmsg is set-uid courier (4755)" \
    test "$(stat -c '%a %U' /usr/bin/cancelmsg 2>&1)" = "4755 courier"
check "the spool is courier's, 0750" test "$(stat -c '%a %U %G' /var/spool/courier 2>&1)" = "750 courier courier"
check "/etc/courier is root's" test "$(stat -c '%U' /etc/courier 2>&1)" = root

# ---- start ----
if [ ! -s /etc/courier/me ]; then echo "pkgtest.invalid" >/etc/courier/me; fi
# Listen on 127.0.0.1 only, as an administrator may set it: make check -j runs this
# beside the outbound tests, whose peers listen on port 25 of other 127.0.x addresses,
# and a wildcard bind would collide with them (either side would get EADDRINUSE).
sed -i 's/^ADDRESS=.*/ADDRESS=127.0.0.1/' /etc/courier/esmtpd
domain=$(head -n 1 /etc/courier/me)
if systemd_running; then
    echo "systemd runs this machine: starting the units"
    check "courier start (systemctl start courier.service)" timeout 60 /usr/sbin/courier start
    check "esmtpd start (systemctl start esmtpd.service)" timeout 60 /usr/sbin/esmtpd start
    check "courier.service is active" timeout 10 systemctl is-active --quiet courier.service
    check "esmtpd.service is active" timeout 10 systemctl is-active --quiet esmtpd.service
else
    echo "no running systemd (a container or CI): starting with the classic commands"
    check "courier start" timeout 60 /usr/sbin/courier start
    check "esmtpd start" timeout 60 /usr/sbin/esmtpd start
fi
for _ in $(seq 1 100); do [ -n "$(port25_owner)" ] && break; sleep 0.1; done
check "couriertcpd listens on port 25" sh -c "$(declare -f port25_owner); port25_owner | grep -q couriertcpd"

# ---- a message through the installed system ----
if id -u "$TESTUSER" >/dev/null 2>&1; then userdel "$TESTUSER" >/dev/null 2>&1; fi
rm -rf "$TESTHOME"
useradd --no-create-home --home-dir "$TESTHOME" --shell /usr/sbin/nologin --user-group "$TESTUSER" && made_user=1
mkdir -p "$TESTHOME" && chown "$TESTUSER:$TESTUSER" "$TESTHOME" && chmod 700 "$TESTHOME"
token="package-test-$$-$(date +%s)"
check "swaks: port 25 accepts mail for $TESTUSER@$domain" timeout 60 swaks --silent 2 --timeout 20 \
    --server 127.0.0.1 --port 25 --from "sender@example.org" --to "$TESTUSER@$domain" \
    --header "Subject: $token" --body "sent by tests/package.sh"
delivered=
for _ in $(seq 1 300); do
    if grep -rqs "Subject: $token" "$TESTHOME/Maildir/new"; then delivered=1; break; fi
    sleep 0.1
done
check "the message is in $TESTHOME/Maildir/new" [ -n "$delivered" ]
for _ in $(seq 1 100); do [ -z "$(find /var/spool/courier/msgs -type f)" ] && break; sleep 0.1; done
check "the delivered message has left the queue" test -n "$delivered" -a -z "$(find /var/spool/courier/msgs -type f)"

# ---- remove and purge ----
check "dpkg -r removes the package" timeout 300 dpkg -r "$PKG"
for _ in $(seq 1 50); do [ -z "$(package_processes)" ] && break; sleep 0.2; done
left=$(package_processes)
check "no process of the package runs after dpkg -r${left:+ (left: $left)}" [ -z "$left" ]
check "nothing listens on port 25 after dpkg -r" [ -z "$(port25_owner)" ]
check "the programs are gone after dpkg -r" \
    sh -c '! [ -e /usr/sbin/courier ] && ! [ -e /usr/lib/courier/submit ] && ! [ -e /usr/sbin/sendmail ]'
check "the units are gone after dpkg -r" sh -c '! ls /lib/systemd/system/courier.service /lib/systemd/system/esmtpd*.service 2>/dev/null | grep -q .'
check "dpkg -r keeps the conffiles (config-files state)" \
    sh -c "dpkg-query -W -f='\${Status}' $PKG | grep -q config-files && [ -f /etc/courier/esmtpd ]"
check "dpkg --purge purges the package" timeout 300 dpkg --purge "$PKG"
check "purge removes /etc/courier and the queue" sh -c '! [ -e /etc/courier ] && ! [ -e /var/spool/courier ]'
check "purge removes the ownership overrides" sh -c '[ -z "$(dpkg-statoverride --list "/var/spool/courier*" "/usr/lib/courier/*")" ]'
check "dpkg no longer knows $PKG" sh -c "! dpkg-query -W -f='\${Status}' $PKG 2>/dev/null | grep -q ."

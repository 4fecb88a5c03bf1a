#!/usr/bin/env bash
# t_install.sh - `make install` into a DESTDIR: the binary runs from another
# folder and prints the build's version, every man page (matter-pki(1) and
# one per command group, generated from the option tables) renders with
# `man -l` without warnings and names every option of its group, and the
# bash completion (from the same tables) completes commands, options and
# enum values. PREFIX defaults to /usr/local.
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"
bin=$(cd "$(dirname "$MP")" && pwd)/$(basename "$MP")
case "$bin" in
    "$here"/*/matter-pki) B=${bin#"$here"/}; B=${B%/matter-pki} ;;
    *) echo "  skip: $MP is not a build of $here"; finish; exit ;;
esac
# A make of its own (not the jobserver of the make running the tests); the
# binary under test is not rebuilt (-o), the pages are generated from it.
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -s -C "$here" BUILD="$B" -o "$B/matter-pki" "$@"; }
rm -rf "$here/$B/docs"
expect 0 "make install DESTDIR PREFIX=/usr" mk install DESTDIR="$T/dest" PREFIX=/usr
D="$T/dest/usr"
check "binary installed 0755" bash -c "[ \"\$(stat -c %a '$D/bin/matter-pki')\" = 755 ]"
check "nothing under /usr/local with PREFIX=/usr" bash -c "[ ! -e '$T/dest/usr/local' ]"
mk -n install DESTDIR="$T/d2" > n.txt 2>&1
check "PREFIX defaults to /usr/local" grep -q "$T/d2/usr/local/bin" n.txt

mkdir -p "$T/elsewhere/sub" && cd "$T/elsewhere/sub"
want="matter-pki $(cat "$here/$B/version")"
check "installed --version prints the build's version ($want)" bash -c "[ \"\$('$D/bin/matter-pki' --version)\" = '$want' ]"
check "version is git describe of the tree" bash -c "grep -qx \"\$(cd '$here' && sh scripts/version.sh | sed 's/-dirty\$//')\\(-dirty\\)\\?\" '$here/$B/version'"
expect 0 "installed binary works from another folder (onboarding encode)" "$D/bin/matter-pki" onboarding encode \
    --vid FFF1 --pid 8000 --passcode 20202021 --discriminator 3840 --caps 2
check "it printed the SDK's QR code" grep -q 'MT:' out.txt

groups=$("$D/bin/matter-pki" help --dump-options | awk -F'\t' '$1 == "command" { print $2 }' | sort -u)
check "option dump lists command groups" test -n "$groups"
for g in matter-pki $(printf 'matter-pki-%s\n' $groups); do
    page="$D/share/man/man1/$g.1"
    if [ ! -f "$page" ]; then fail "man page $g.1 installed"; continue; fi
    LC_ALL=C.UTF-8 MANWIDTH=100 man --warnings -l "$page" > man.txt 2> man.err
    if [ $? = 0 ] && [ ! -s man.err ] && grep -q '^NAME' man.txt; then ok "man -l renders $g.1 without warnings"
    else fail "man -l renders $g.1 without warnings"; head -3 man.err; fi
    if [ "$g" != matter-pki ]; then
        missing=$("$D/bin/matter-pki" help --dump-options | awk -F'\t' -v g="${g#matter-pki-}" \
            '$1 == "command" { in_g = ($2 == g) } $1 == "option" && in_g { print "--" $2 }' | sort -u |
            while read -r o; do grep -qF -- "$o" man.txt || echo "$o"; done)
        check "$g.1 names every option of its commands${missing:+ (missing: $missing)}" test -z "$missing"
    fi
done
LC_ALL=C.UTF-8 MANWIDTH=100 man -l "$D/share/man/man1/matter-pki.1" > man.txt 2>/dev/null
check "matter-pki(1) lists the exit codes" grep -q 'quota exceeded' man.txt

comp="$D/share/bash-completion/completions/matter-pki"
c() { bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _matter_pki; echo "${COMPREPLY[*]}"' _ "$comp" "$@"; }
check "completion: command groups" bash -c "[[ ' $(c matter-pki '') ' == *' factory-data '* ]]"
want=$("$D/bin/matter-pki" help --dump-options | awk -F'\t' '$1 == "command" && $2 == "dac" { printf "%s%s", s, $3; s = " " }')
check "completion: dac subcommands ($want)" bash -c "[ '$(c matter-pki dac '')' = '$want' ]"
check "completion: options of pai crl" bash -c "[[ ' $(c matter-pki pai crl --pai) ' == *' --pai-cert '* ]]"
check "completion: enum values" bash -c "[ '$(c matter-pki dac revoke --reason key)' = keyCompromise ]"
finish

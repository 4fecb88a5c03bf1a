#!/usr/bin/env bash
# t_fd_formats.sh - every factory-data format of the table: byte-level golden
# images of one device (tests/golden/fd), read back by inspect; the format
# lists of the commands come from the table.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GOLD=$ROOT/tests/golden/fd

# format extension (as the table in factory-data/fd_formats.c says)
FORMATS="nrf:nrf.cbor nrf-json:nrf.json esp32:esp32.bin esp32-csv:esp32.csv nxp:nxp.bin json:json"

for fe in $FORMATS; do
    f=${fe%%:*} e=${fe#*:}
    expect 0 "pack $f" "$MP" factory-data pack --device "$GOLD/dev.json" --format "$f" --out "g.$e"
    check "$f: byte-identical to tests/golden/fd/golden.$e" cmp "g.$e" "$GOLD/golden.$e"
    expect 0 "inspect golden.$e (format detected)" "$MP" factory-data inspect "$GOLD/golden.$e" --json \
        --pai "$VEC/Chip-Test-PAI-FFF1-8000-Cert.pem" --passcode 20202021
    check "$f: detected and every field read back" bash -c "jq -e '.format == \"$f\" and .device.serial_number == \"SN-0001\" and .device.discriminator == 3840 and .checks.verifier_matches_passcode == \"ok\" and .checks.dac_chains_to_pai == \"ok\"' out.txt"
done

# the --format choices of pack, inspect and build are the table's
"$MP" factory-data pack --help > pack-help.txt
"$MP" factory-data build --help > build-help.txt
check "pack --help lists every format" bash -c "grep -q -- '--format nrf|nrf-json|esp32|esp32-csv|nxp|json' pack-help.txt"
check "build --help lists the build formats (no side outputs)" bash -c "grep -q -- '--format nrf|esp32|nxp|json ' build-help.txt"
expect_err 2 "not one of nrf|nrf-json" "an unknown format is refused with the table's list" "$MP" factory-data pack --device "$GOLD/dev.json" --format bogus --out x

finish

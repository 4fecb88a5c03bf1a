# table.jq - results.json -> the Markdown tables of results.md (jq -r).
def num: if . == null then "—" elif . >= 100 then (round | tostring) else tostring end;
def x: if . == null then "—" else "\(.)×" end;
def pct: if . == null then "—" else "\(. * 1000 | round / 10)%" end;
"# matter-pki benchmarks",
"",
"\(.date), `\(.command)`, \(.elapsed_s) s, \(.rounds) round(s) (budget \(.budget_s) s). Machine: \(.machine.nproc) CPU(s), \(.machine.cpu), \(.machine.memory); \(.machine.openssl); SoftHSM \(.machine.softhsm2); libp11 \(.machine.libp11); SQLite \(.machine.sqlite); Linux \(.machine.kernel).",
"Load at start: `\(.load_start | sub("^ +"; ""))`; at end: `\(.load_end | sub("^ +"; ""))`.",
"Peer: SSL_CERT_FILE \(.machine.ssl_cert_file).",
"",
"Rates are medians; \"vs limit\" is the median of pairwise ratios (each pipeline run against the limit run just before it, same thread count); \"vs peer\" is median over median. A floor is its limit's loop with one writer thread that writes each output as its own file the way the tool does (bench/filering.h; no ledger, no packing): \"floor/limit\" is what one file per device leaves of the limit on this machine, and \"vs floor\" is the pipeline against it.",
"",
"| Row | Devices | Jobs | Runs | Rate /s | Limit | vs limit | floor/limit | vs floor | vs peer | Peak RSS MiB | Out B/dev | Disk B/dev |",
"|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
(.rows[] | "| \(.label) | \(.n) | \(.jobs) | \(.runs) | \(.rate | num) | \(.limit // "—") | \(.vs_limit | pct) | \(.floor_vs_limit | pct) | \(.vs_floor | pct) | \(.vs_peer | x) | \(.rss_mib) | \(if .group == "limit" or .group == "import" or .group == "floor" then "—" else .bytes_dev end) | \(if .group == "limit" or .group == "import" or .group == "floor" then "—" else .disk_dev end) |"),
"",
"## Scale",
"",
"| Series | Devices: rate /s (peak RSS MiB) | Rate largest/smallest | RSS largest/smallest |",
"|---|---|---:|---:|",
(.scale[] | "| \(.series) | \([.points[] | "\(.n): \(.rate | num) (\(.rss_mib))"] | join(", ")) | \(.rate_ratio) | \(.rss_ratio) |"),
"",
"## Targets",
"",
"A target's ceiling is its row's floor/limit: the ratio the loop itself reaches once one file per device is written too, on this machine (no ledger, no packing).",
"",
"| Target | Row | Value | Goal | Ceiling (floor/limit) | Met |",
"|---|---|---:|---:|---:|---|",
(.targets[] | "| \(.target) | \(.row) | \(.value) | \(.goal) | \(.ceiling // "—") | \(if .met then "yes" else "**no**" end) |")

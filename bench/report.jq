# report.jq - rows.jsonl (one object per measurement, slurped) -> results.json:
# per row the median rate, the median of the pairwise ratios to its limit,
# the ratio of medians to its peer, the largest peak RSS; the targets of
# BENCHMARKS.md checked; the scale series.
def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def r(d): if . == null then null else (. * pow(10; d) | round) / pow(10; d) end;
def scale($rows; name; f): [$rows[] | select(f)] | sort_by(.n) as $s | if ($s | length) < 2 then empty else
    {series: name, points: ($s | map({n, rate, rss_mib})),
     rate_ratio: ($s[-1].rate / $s[0].rate | r(3)), rss_ratio: ($s[-1].rss_mib / $s[0].rss_mib | r(3))} end;

(group_by(.key) | map({
    key: .[0].key, ord: .[0].ord, group: .[0].group, label: .[0].label, n: .[0].n, jobs: .[0].jobs,
    iterations: .[0].iterations, runs: length,
    rate: (map(.rate) | median | r(1)),
    rates: map(.rate),
    seconds: (map(.seconds) | median | r(3)),
    rss_mib: (map(.rss_kb) | max / 1024 | r(1)),
    bytes_dev: (map(.bytes_dev) | median | round),
    disk_dev: (map(.disk_dev) | median | round),
    limit: (if .[0].limit_key == "" then null else .[0].limit_key end),
    vs_limit: (map(select(.limit_rate > 0) | .rate / .limit_rate) | median | r(3)),
    floor: (if (.[0].floor_key // "") == "" then null else .[0].floor_key end),
    vs_floor: (map(select((.floor_rate // 0) > 0) | .rate / .floor_rate) | median | r(3)),
    floor_vs_limit: (map(select((.floor_rate // 0) > 0 and .limit_rate > 0) | .floor_rate / .limit_rate) | median | r(3)),
    peer: (if .[0].peer_key == "" then null else .[0].peer_key end),
    # what the process used: cores busy ((user + system CPU) / wall) and the kernel's share
    cores_busy: (map(select(.seconds > 0) | ((.usr // 0) + (.sys // 0)) / .seconds) | median | r(2)),
    kernel_share: (map(select(((.usr // 0) + (.sys // 0)) > 0) | .sys / (.usr + .sys)) | median | r(2)),
    load1: (map(.load1 // 0) | median | r(1))
  }) | sort_by(.ord, .iterations, .n, .jobs)) as $rows
| ($rows | map(. + {binds: (
    if .group == "limit" then "CPU: the loop on \(.jobs) thread(s)"
    elif .group == "floor" then "file creation in the kernel (one writer thread; kernel \(.kernel_share))"
    elif .group == "import" or .group == "peer" then "CPU (one process at a time)"
    elif (.key | test("bundle")) then "CPU: both cores sign / derive, the main thread's ledger commit shares them (no file per device; kernel \(.kernel_share), \(.cores_busy) cores busy)"
    elif .floor != null and .floor_vs_limit != null and .floor_vs_limit < 0.8 then "file creation in the kernel: the floor leaves \(.floor_vs_limit) of the limit (kernel \(.kernel_share), \(.cores_busy) cores busy)"
    else "CPU and file creation (kernel \(.kernel_share), \(.cores_busy) cores busy)" end)})) as $rows
| ($rows | map({key: .key, value: .rate}) | from_entries) as $rate
| ($rows | map(.vs_peer = (if .peer != null and $rate[.peer] != null then (.rate / $rate[.peer] | r(1)) else null end))) as $rows
| [scale($rows; "dac issue (chip-list keys) --jobs 2"; .group == "issue" and (.key | startswith("issue-chips-j2"))),
   scale($rows; "factory-data build --format json, 1000 iterations, --jobs 2";
         .group == "fd" and (.key | startswith("fd-json-it1000-j2")))] as $scale
| {
    date: $date, command: $command, rounds: $rounds, budget_s: $budget, elapsed_s: $elapsed, load_start: $load_start, load_end: $load_end,
    machine: $machine, rows: $rows, scale: $scale,
    targets: (
      [$rows[] | select(.group == "issue" and .n == $n) |
        {target: "issuance >= 80% of the build-and-sign limit", row: .key, value: .vs_limit, goal: 0.80,
         ceiling: .floor_vs_limit, met: (.vs_limit >= 0.80)}] +
      [$rows[] | select(.group == "issue" and .jobs == 2 and (.key | startswith("issue-bundle"))) |
        {target: "--bundle: dac issue --jobs 2 >= 80% of the bare build-and-sign limit (same run)", row: .key,
         value: .vs_limit, goal: 0.80, ceiling: null, met: (.vs_limit >= 0.80)}] +
      [$rows[] | select(.group == "issue" and .jobs == 2 and .vs_floor != null) |
        {target: "one file per device: dac issue --jobs 2 >= 80% of the floor (signing + one file per device)", row: .key,
         value: .vs_floor, goal: 0.80, ceiling: null, met: (.vs_floor >= 0.80)}] +
      [$rows[] | select(.group == "fd" and .iterations == 1000 and .n >= $n) |
        {target: "factory data at 1,000 iterations >= 85% of the PBKDF2 limit", row: .key, value: .vs_limit,
         goal: 0.85, ceiling: .floor_vs_limit, met: (.vs_limit >= 0.85)}] +
      [$rows[] | select(.vs_peer != null) |
        {target: ">= 100x the openssl loop", row: .key, value: .vs_peer, goal: 100, met: (.vs_peer >= 100)}] +
      [$scale[] | {target: "memory flat (peak RSS at the largest batch <= 1.25x at the smallest)",
                   row: .series, value: .rss_ratio, goal: 1.25, met: (.rss_ratio <= 1.25)}] +
      [$scale[] | {target: "linear time (rate at the largest batch >= 0.8x at the smallest)",
                   row: .series, value: .rate_ratio, goal: 0.8, met: (.rate_ratio >= 0.8)}])
  }

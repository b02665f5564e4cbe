# Where the guest's CPU went over a stretch, by thread, for the benches
# (sourced). `ticks_mark` before the stretch, `ticks_shares NAME WHAT`
# after it prints "NAME: WHAT: idle N %, ring threads N %, ..." as shares of
# the guest's total ticks over both vCPUs: a TCG guest's clock and tick
# accounting are too uneven to compare absolute figures across runs.
# A daemon's threads are told apart by name (the ring's thread keeps the
# process's name; `sessions` is the session worker, `session-events` the
# listener of new sessions); "other processes" names the three that took
# most.

# Every thread of the guest: "TID COMM KIND TICKS", KIND kernel for kernel
# threads (PF_KTHREAD in their flags), daemon for a ringgated's threads,
# other otherwise. One awk over every stat file: under TCG a process per
# thread would cost more than the stretch measured.
threads() {
  awk '{ pid = FILENAME; sub(/^\/proc\//, "", pid); sub(/\/.*/, "", pid)
         tid = FILENAME; sub(/\/stat$/, "", tid); sub(/.*\//, "", tid)
         comm = $0; sub(/^[^(]*\(/, "", comm); sub(/\) [^)]*$/, "", comm); gsub(/ /, "", comm)
         rest = $0; sub(/^.*\) /, "", rest); split(rest, f, " ")
         if (tid == pid) main[pid] = comm
         owner[tid] = pid; name[tid] = comm; ticks[tid] = f[12] + f[13]
         kthread[tid] = int(f[7] / 2097152) % 2 }
       END { for (t in name) printf "%s %s %s %d\n", t, name[t],
               kthread[t] ? "kernel" : main[owner[t]] == "ringgated" ? "daemon" : "other", ticks[t] }' \
    /proc/[0-9]*/task/[0-9]*/stat 2>/dev/null | sort
}

ticks_mark() {
  TICKS_STAT_BEFORE=$(head -1 /proc/stat)
  TICKS_THREADS_BEFORE=$(threads)
}

ticks_shares() {
  local after t0 t1 idle irq
  after=$(threads)
  # user nice system idle iowait irq softirq, before and after: the total,
  # idle, and interrupts (where most packets are handled, on no thread).
  t0=$(echo "$TICKS_STAT_BEFORE" | awk '{print $2 + $3 + $4 + $5 + $6 + $7 + $8, $5, $7 + $8}')
  t1=$(head -1 /proc/stat | awk '{print $2 + $3 + $4 + $5 + $6 + $7 + $8, $5, $7 + $8}')
  read -r t0 i0 q0 <<<"$t0"
  read -r t1 i1 q1 <<<"$t1"
  idle=$((i1 - i0)) irq=$((q1 - q0))
  # Threads that ended during the stretch are missing from "after" and
  # not counted; those that began in it count from zero. (awk, not join:
  # the guest's busybox join has no -a, -e or -o.)
  { printf '%s\n' "$TICKS_THREADS_BEFORE" | sed 's/^/before /'; printf '%s\n' "$after" | sed 's/^/after /'; } |
    awk -v total=$((t1 - t0)) -v idle="$idle" -v irq="$irq" -v name="$1" -v what="$2" '
    $1 == "before" { before[$2] = $5; next }
    { $0 = $2 " " $3 " " $4 " " ($2 in before ? before[$2] : 0) " " $5 }
    { d = $5 - $4; if (d < 0) d = 0
      if ($3 == "daemon") role = $2 == "ringgated" ? "ring threads" : $2 == "sessions" ? "session workers" : $2 == "session-events" ? "session listeners" : "other daemon threads"
      else if ($3 == "kernel") role = "kernel threads"
      else { role = "other processes"; by_comm[$2] += d }
      sum[role] += d }
    END { if (total <= 0) total = 1
      printf "%s: %s: idle %.0f %%, interrupts %.0f %%", name, what, 100 * idle / total, 100 * irq / total
      n = split("ring threads,session workers,session listeners,other daemon threads,kernel threads,other processes", order, ",")
      for (i = 1; i <= n; i++) printf ", %s %.1f %%", order[i], 100 * sum[order[i]] / total
      top = ""
      for (k = 0; k < 3; k++) {
        best = ""; for (c in by_comm) if (best == "" || by_comm[c] > by_comm[best]) best = c
        if (best == "" || by_comm[best] == 0) break
        top = top sprintf("%s%s %.1f %%", top == "" ? "" : ", ", best, 100 * by_comm[best] / total); delete by_comm[best] }
      printf " (%s; of %d ticks, both vCPUs)\n", top, total }'
}

# The side-by-side table a `make bench` run ends with (sourced). Each bench
# adds its headline figures with `summary FIGURE SYSTEM VALUE`, and after
# the last bench `summary_table` prints them: one row per figure, one
# column per system, every figure from the same VM run. A figure a bench
# did not produce (it was not run, or its set-up failed) is left out.
# Python benches append the same tab-separated lines to the same file.

SUMMARY_FILE=/tmp/bench-summary

summary() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$SUMMARY_FILE"; }

summary_table() {
  [ -s "$SUMMARY_FILE" ] || return 0
  python3 - "$SUMMARY_FILE" <<'PY'
import sys
rows, systems = {}, []
for line in open(sys.argv[1]):
    parts = line.rstrip("\n").split("\t")
    if len(parts) != 3:
        continue
    figure, system, value = parts
    rows.setdefault(figure, {})[system] = value
    if system not in systems:
        systems.append(system)
width = max(len(f) for f in rows) + 2
cell = max([len(s) for s in systems] + [len(v) for r in rows.values() for v in r.values()]) + 2
print("bench summary (this VM run; each figure's bench prints how it was measured):")
print("".ljust(width) + "".join(s.rjust(cell) for s in systems))
for figure, r in rows.items():
    print(figure.ljust(width) + "".join(r.get(s, "-").rjust(cell) for s in systems))
PY
}

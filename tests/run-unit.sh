#!/usr/bin/env bash
# Run every Check unit-test binary given as an argument; print one summary
# line "unit: N passed, M failed" (N, M count individual checks) and exit
# non-zero if any check failed or any binary crashed.
set -u
# Check gives a test case without its own timeout 4 s, which a busy 2-core
# machine under the sanitizers can exceed: it is a hang guard, not a speed
# limit, so 60 s unless the caller chose otherwise.
export CK_DEFAULT_TIMEOUT="${CK_DEFAULT_TIMEOUT:-60}"
pass=0 fail=0 bad=0
for t in "$@"; do
	out=$("$t" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed "s|^|[$(basename "$t")] |"
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: ' | tail -n 1)
	if [ -z "$line" ]; then
		echo "[$(basename "$t")] no Check summary (exit $rc): counted as a failure"
		bad=$((bad + 1))
		continue
	fi
	n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
	f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
	e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
	pass=$((pass + n - f - e))
	fail=$((fail + f + e))
	[ "$rc" -ne 0 ] && [ $((f + e)) -eq 0 ] && bad=$((bad + 1))
done
echo "unit: $pass passed, $((fail + bad)) failed"
[ $((fail + bad)) -eq 0 ]

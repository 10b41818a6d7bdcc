#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Mutation check: apply each mutant (tests/mutants/*.mut, see apply.py for
# the format) to a copy of the tree, build, run the tests that must kill it
# and print a table.  The working tree is never touched.
#
#   tests/mutants/run.sh                  every "unit" mutant against make unit
#   tests/mutants/run.sh --fuzz           also the "fuzz" mutants (clang/libFuzzer,
#                                         FUZZ_SECONDS each, default 60)
#   tests/mutants/run.sh FILE.mut ...     just these
#   tests/mutants/run.sh --base REV       against the code and tests of commit
#                                         REV instead of the working tree (e.g.
#                                         the table before a change)
#   UNIT="test_vsock_device" tests/mutants/run.sh   only these unit binaries
#
# A mutant is killed when a test fails (or crashes) with it applied.  Exit
# status: 0 if every mutant was killed, 1 if one survived, 2 if a mutant no
# longer applies or does not build, or the unmutated tree fails its tests.
# Uncommitted changes are included (the copy is of the working tree).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fuzz=0
base=
muts=()
while [ $# -gt 0 ]; do
	case $1 in
	--fuzz) fuzz=1 ;;
	--base) base=$2; shift ;;
	-h|--help) sed -n '3,21p' "$0"; exit 0 ;;
	*) muts+=("$1") ;;
	esac
	shift
done
if [ ${#muts[@]} -eq 0 ]; then
	for m in "$here"/*.mut; do
		k=$("$here/apply.py" --field kind "$m")
		[ "$k" = unit ] || [ $fuzz = 1 ] && muts+=("$m")
	done
fi
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
JOBS=${JOBS:-2}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mutants.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
src=$tmp/src
mkdir -p "$src"
if [ -n "$base" ]; then
	git -C "$root" archive "$base" | tar -xf - -C "$src" || exit 2
else
	# The working tree as it is (tracked and untracked, minus ignored files).
	(cd "$root" && git ls-files -z --cached --others --exclude-standard |
		tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$src"
fi
# Check's default per-test timeout is 4 s: a mutant "killed" by a slow
# machine is no kill.  Tests that set their own timeout keep it.
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-60}

if [ -n "${UNIT:-}" ]; then
	names=$UNIT
else
	names=$(cd "$src/tests/unit" && ls test_*.c | sed 's/\.c$//')
fi
bins=()
for n in $names; do bins+=("build/tests/unit/$n"); done

build_unit() { make -C "$src" -j"$JOBS" "${bins[@]}" >"$1" 2>&1; }
run_unit() { (cd "$src" && timeout 1800 tests/run-unit.sh "${bins[@]}") >"$1" 2>&1; }

# Which checks failed: "[test_x] file:line:F:tcase:test:..." lines, and
# binaries that died without a summary.
killers() {
	sed -nE 's/^\[([^]]+)\] [^ ]*:[0-9]+:[FE]:([^:]+):([^:]+):.*/\1:\2:\3/p;
		 s/^\[([^]]+)\] no Check summary.*/\1 (crashed)/p' "$1" | sort -u
}

# Fail fast: every mutant must still fit the code.
for m in "${muts[@]}"; do
	"$here/apply.py" --check "$m" "$src" || exit 2
done

echo "mutants: building and testing the unmutated tree${base:+ at $base} in $src"
if ! build_unit "$tmp/base.log" || ! run_unit "$tmp/base.log"; then
	tail -n 40 "$tmp/base.log"
	echo "mutants: the unmutated tree fails its tests; nothing to compare with"
	exit 2
fi

worst=0
results=()
for m in "${muts[@]}"; do
	name=$(basename "$m" .mut)
	file=$("$here/apply.py" --field file "$m")
	kind=$("$here/apply.py" --field kind "$m")
	log=$tmp/$name.log
	cp "$src/$file" "$tmp/orig"
	if ! "$here/apply.py" "$m" "$src" 2>"$log"; then
		results+=("$name|DOES NOT APPLY|$(head -c 200 "$log")")
		worst=2
		continue
	fi
	echo "mutants: $name ($kind)"
	res= by=
	if [ "$kind" = fuzz ]; then
		t=$("$here/apply.py" --field fuzz "$m")
		rm -rf "$src/build/fuzz/corpus/$t"
		if ! make -C "$src" "build/fuzz/$t" >"$log" 2>&1; then
			res="BUILD FAILED"
		else
			mkdir -p "$src/build/fuzz/corpus/$t" "$src/build/fuzz/artifacts"
			if (cd "$src" && "build/fuzz/$t" -max_total_time="$FUZZ_SECONDS" \
				-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
				-artifact_prefix=build/fuzz/artifacts/"$name"- \
				"build/fuzz/corpus/$t" "tests/fuzz/corpus/$t") >>"$log" 2>&1; then
				res=SURVIVED
			else
				res=killed
				by="$t: $(grep -m1 -oE '(ERROR|SUMMARY): [A-Za-z]+: [a-z -]+' "$log" | head -n1)"
			fi
		fi
		rm -rf "$src/build/fuzz/$t"
	elif ! build_unit "$log"; then
		res="BUILD FAILED"
	elif run_unit "$log"; then
		res=SURVIVED
	else
		res=killed
		k=$(killers "$log")
		by=$(printf '%s\n' "$k" | head -n 3 | paste -sd ' ' -)
		n=$(printf '%s\n' "$k" | grep -c .)
		[ "$n" -gt 3 ] && by="$by (+$((n - 3)) more)"
		[ -z "$k" ] && by="(see log: $(tail -n 1 "$log"))"
	fi
	cp "$tmp/orig" "$src/$file"
	touch "$src/$file"
	case $res in
	SURVIVED) [ $worst -lt 1 ] && worst=1 ;;
	killed) ;;
	*) worst=2; by="$(tail -n 5 "$log" | tr '\n' ' ')" ;;
	esac
	results+=("$name|$res|$by")
done

echo
printf '%-34s %-9s %s\n' mutation result "killed by"
for r in "${results[@]}"; do
	IFS='|' read -r n s b <<<"$r"
	printf '%-34s %-9s %s\n' "$n" "$s" "$b"
done
exit $worst

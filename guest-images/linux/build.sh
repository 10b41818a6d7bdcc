#!/bin/bash
# Build a vmm Linux guest: an uncompressed vmlinux (Debian linux-source-VERSION,
# tinyconfig + config-fragment + config-fragment-VERSION + the patches named
# in patches/series-VERSION) and a busybox initramfs.  VERSION is 6.1 or 6.12.
#
# Outputs (relative to the repository root):
#   build/guest-linux/VERSION/vmlinux            ELF, entered via the 64-bit boot protocol
#   build/guest-linux/VERSION/bzImage            the same kernel compressed
#   build/guest-linux/VERSION/initramfs.cpio.gz  gzip cpio (the kernel has RD_GZIP)
#   build/guest-linux/VERSION/initramfs.cpio     the same archive, uncompressed
#   build/guest-linux/VERSION/initramfs-min.cpio only a tiny static /init (no busybox)
#   build/guest-linux/VERSION/config, System.map for debugging
#
# Everything is cached by a hash of its inputs under
#   ${VMM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm}/guest-linux/
# so a second run, or a fresh clone on the same machine, takes seconds.
# See README.md next to this script.
#
# Usage: build.sh [--rebuild] [--print-hash] [--help] [VERSION]
# Environment: VMM_CACHE_DIR, GUEST_LINUX_TARBALL (default
#   /usr/src/linux-source-VERSION.tar.xz), GUEST_LINUX_JOBS (default 2),
#   GUEST_LINUX_OUT (default <repo>/build/guest-linux/VERSION), BUSYBOX
#   (default /bin/busybox from busybox-static).
set -euo pipefail

# Format version of this script's cache layout and build recipe; bump to
# invalidate every cached build.
RECIPE=2

die() { echo "guest-linux: error: $*" >&2; exit 1; }
msg() { echo "guest-linux: $*"; }

rebuild=0 print_hash=0 ver=6.1
for a in "$@"; do
	case "$a" in
	--rebuild) rebuild=1 ;;
	--print-hash) print_hash=1 ;;
	-h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown argument '$a' (try --help)" ;;
	*) ver=$a ;;
	esac
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)
case "$ver" in
6.1|6.12) ;;
*) die "unknown kernel version '$ver' (known: 6.1, 6.12)" ;;
esac
pkg=linux-source-$ver
out=${GUEST_LINUX_OUT:-$repo/build/guest-linux/$ver}
cache_base=${VMM_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/vmm}
cache=$cache_base/guest-linux
tarball=${GUEST_LINUX_TARBALL:-/usr/src/$pkg.tar.xz}
busybox=${BUSYBOX:-/bin/busybox}
jobs=${GUEST_LINUX_JOBS:-2}
# The common fragment, then this version's delta (merged in that order).
fragments=("$here/config-fragment" "$here/config-fragment-$ver")
patchdir=$here/patches
series=$patchdir/series-$ver
initdir=$here/initramfs
# Built-in AF_VSOCK self test (drivers/misc/vsocktest, CONFIG_VMM_VSOCKTEST)
# and the user-space agent for ordinary KVM hosts (/bin/vsock-agent).
vsocktestdir=$here/vsocktest
agentdir=$here/agent

# The kernel's make must not inherit the calling make's flags/variables (the
# top-level Makefile runs us; V=1, -j and jobserver fds would leak in).
unset MAKEFLAGS MFLAGS MAKEOVERRIDES MAKELEVEL GNUMAKEFLAGS \
      ARCH CROSS_COMPILE O KBUILD_OUTPUT KCONFIG_CONFIG CFLAGS LDFLAGS CC V W
export LC_ALL=C
# Reproducible version string (no date/user/host of the build machine).
export KBUILD_BUILD_TIMESTAMP="vmm guest" KBUILD_BUILD_USER=vmm \
       KBUILD_BUILD_HOST=vmm KBUILD_BUILD_VERSION=1

# ---------------------------------------------------------------- checks ---
missing=()
for t in make gcc ld readelf flex bison bc tar xz patch gzip sha256sum \
	 flock awk sed find xargs stat; do
	command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
[ -e /usr/include/libelf.h ] || [ -e /usr/include/elfutils/libelf.h ] ||
	missing+=("libelf headers (package libelf-dev)")
[ ${#missing[@]} -eq 0 ] || die "missing build tools: ${missing[*]}
  Debian: apt-get install build-essential flex bison bc libelf-dev xz-utils patch busybox-static"
[ -r "$tarball" ] || die "kernel source $tarball not found
  Debian: apt-get install $pkg (or set GUEST_LINUX_TARBALL)"
[ -x "$busybox" ] || die "busybox $busybox not found (apt-get install busybox-static, or set BUSYBOX)"
if ! readelf -h "$busybox" >/dev/null 2>&1 || readelf -l "$busybox" 2>/dev/null | grep -q INTERP; then
	die "$busybox is not a static executable (install busybox-static)"
fi
for f in "${fragments[@]}"; do [ -r "$f" ] || die "$f missing"; done
[ -r "$series" ] || die "$series missing"
[ -r "$initdir/init" ] || die "$initdir/init missing"
[ -r "$vsocktestdir/vsocktest.c" ] || die "$vsocktestdir/vsocktest.c missing"
[ -r "$agentdir/vsock-agent.c" ] || die "$agentdir/vsock-agent.c missing"
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || [ -e /usr/lib64/libc.a ] || [ -e /usr/lib/libc.a ] ||
	die "static libc (libc.a) not found, needed for /bin/vsock-agent (apt-get install libc6-dev)"
case "$jobs" in ''|*[!0-9]*) die "GUEST_LINUX_JOBS must be a number" ;; esac

patches=()
while read -r p; do
	p=${p%%#*}; p=${p//[[:space:]]/}
	[ -n "$p" ] || continue
	[ -r "$patchdir/$p" ] || die "patch $p listed in series not found in $patchdir"
	patches+=("$patchdir/$p")
done < "$series"

# ------------------------------------------------------------ input hash ---
# Source identity: Debian package version + size (hashing 130 MB each run would
# cost a second); a tarball not from the package is hashed.
if pkgver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) &&
	[ -n "$pkgver" ] && [ "$(dpkg -S "$tarball" 2>/dev/null | cut -d: -f1)" = "$pkg" ]; then
	src_id="$pkg $pkgver size $(stat -c %s "$tarball")"
	src_name=${pkg}_${pkgver//[^A-Za-z0-9.+-]/_}
else
	sum=$(sha256sum < "$tarball" | cut -c1-64)
	src_id="tarball $ver sha256 $sum"
	src_name=tarball-$ver-${sum:0:16}
fi

hash_files() { cat "$@" | sha256sum | cut -c1-64; }
hash_dir() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64); }
cc_id=$(gcc --version | head -n1); ld_id=$(ld --version | head -n1)
kernel_inputs=$(
	echo "recipe $RECIPE"
	echo "version $ver"
	echo "source $src_id"
	echo "compiler $cc_id / $ld_id"
	for f in "${fragments[@]}"; do echo "fragment $(basename "$f") $(hash_files "$f")"; done
	for p in "${patches[@]}"; do echo "patch $(basename "$p") $(hash_files "$p")"; done
	echo "vsocktest $(hash_dir "$vsocktestdir")"
	echo "build.sh $(hash_files "$here/build.sh")"
)
khash=$(echo "$kernel_inputs" | sha256sum | cut -c1-16)

initramfs_inputs=$(
	echo "recipe $RECIPE"
	echo "source $src_id"          # gen_init_cpio comes from the source tree
	echo "busybox $(hash_files "$busybox")"
	echo "init-dir $(cd "$initdir" && find . -type f -print0 | sort -z |
		xargs -0 sha256sum | sha256sum | cut -c1-64)"
	echo "init-modes $(cd "$initdir" && find . -printf '%p %m\n' | sort | sha256sum | cut -c1-64)"
	echo "agent $(hash_dir "$agentdir") compiler $cc_id"
	echo "build.sh $(hash_files "$here/build.sh")"
)
ihash=$(echo "$initramfs_inputs" | sha256sum | cut -c1-16)
hash=$(printf 'kernel %s\ninitramfs %s\n' "$khash" "$ihash" | sha256sum | cut -c1-16)

if [ "$print_hash" = 1 ]; then echo "$hash"; exit 0; fi

mkdir -p "$cache" || die "cannot create cache directory $cache"
# One build at a time per cache (parallel makes, several clones, CI jobs).
exec 9>"$cache/.lock"
if ! flock -n 9; then
	msg "waiting for another guest-linux build (lock $cache/.lock)"
	flock 9
fi

final=$cache/$hash
kdir=$cache/kernel/$khash
idir=$cache/initramfs/$ihash
kfiles=(vmlinux bzImage config System.map)
ifiles=(initramfs.cpio initramfs.cpio.gz initramfs-min.cpio)

complete() {  # dir files...: all present and the dir has its stamp
	local d=$1; shift
	[ -f "$d/.complete" ] || return 1
	for f in "$@"; do [ -s "$d/$f" ] || return 1; done
}

install_outputs() {
	mkdir -p "$out"
	for f in "${kfiles[@]}" "${ifiles[@]}"; do
		cp -f "$final/$f" "$out/$f.tmp.$$" && mv -f "$out/$f.tmp.$$" "$out/$f"
	done
	echo "$hash" > "$out/cache-hash"
}

if [ "$rebuild" = 0 ] && complete "$final" "${kfiles[@]}" "${ifiles[@]}"; then
	install_outputs
	msg "using cached build $hash ($final) -> ${out#"$repo"/}/"
	exit 0
fi

start=$(date +%s)
scratch_base=$cache/scratch
mkdir -p "$scratch_base"

# ------------------------------------------------ pristine source (once) ---
src_root=$cache/src/$src_name
srctree=$src_root/$pkg
if [ ! -f "$src_root/.complete" ]; then
	msg "extracting $tarball (once) into $src_root"
	rm -rf "$src_root" "$src_root.tmp"
	mkdir -p "$src_root.tmp"
	tar -xJf "$tarball" -C "$src_root.tmp" || die "extracting $tarball failed"
	[ -f "$src_root.tmp/$pkg/Makefile" ] ||
		die "$tarball does not contain $pkg/"
	echo "$src_id" > "$src_root.tmp/.complete"
	mv "$src_root.tmp" "$src_root"
fi

# ---------------------------------------------------------------- kernel ---
build_kernel() {
	local s=$scratch_base/kernel-$khash
	local log=$s/build.log
	rm -rf "$s"; mkdir -p "$s"
	msg "building Linux $ver kernel $khash with -j$jobs (3-6 min on 2 cores; log: $log)"

	# A hard-link copy of the pristine tree; patch(1) replaces the files it
	# changes (new inode), so the pristine tree is never modified.
	cp -al "$srctree" "$s/src"
	for p in "${patches[@]}"; do
		echo "== patch -p1 < $p" >> "$log"
		(cd "$s/src" && patch -p1 --forward --batch --no-backup-if-mismatch < "$p") >> "$log" 2>&1 ||
			{ tail -n 20 "$log" >&2; die "patch $(basename "$p") does not apply (log: $log)"; }
	done
	# The vsock self test's sources (patches/0003 hooks them into kbuild).
	echo "== copy $vsocktestdir -> drivers/misc/vsocktest" >> "$log"
	mkdir -p "$s/src/drivers/misc/vsocktest"
	cp "$vsocktestdir"/Kconfig "$vsocktestdir"/Makefile "$vsocktestdir"/*.c "$vsocktestdir"/*.h \
		"$s/src/drivers/misc/vsocktest/"

	local mk=(make -C "$s/src" O="$s/obj" ARCH=x86_64 -j"$jobs")
	{
		echo "== tinyconfig"
		"${mk[@]}" tinyconfig
		echo "== merge_config.sh ${fragments[*]}"
		(cd "$s/src" && ARCH=x86_64 scripts/kconfig/merge_config.sh -m -O "$s/obj" \
			"$s/obj/.config" "${fragments[@]}")
		echo "== olddefconfig"
		"${mk[@]}" olddefconfig
	} >> "$log" 2>&1 || { tail -n 30 "$log" >&2; die "kernel configuration failed (log: $log)"; }

	# Every line of the fragment must have survived olddefconfig.
	local bad=() line sym val
	while IFS= read -r line; do
		if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
			sym=${BASH_REMATCH[1]} val=${BASH_REMATCH[2]}
			grep -qxF "$sym=$val" "$s/obj/.config" ||
				bad+=("$sym=$val (got: $(grep -E "^(# )?$sym[= ]" "$s/obj/.config" || echo 'absent'))")
		elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
			sym=${BASH_REMATCH[1]}
			! grep -qE "^$sym=" "$s/obj/.config" ||
				bad+=("$sym must be off (got: $(grep -E "^$sym=" "$s/obj/.config"))")
		fi
	done < <(cat "${fragments[@]}")
	if [ ${#bad[@]} -gt 0 ]; then
		printf '  %s\n' "${bad[@]}" >&2
		die "config fragment not honoured: the symbols above did not end up as requested (missing dependency?); .config: $s/obj/.config"
	fi

	echo "== make vmlinux bzImage" >> "$log"
	if ! "${mk[@]}" vmlinux bzImage >> "$log" 2>&1; then
		grep -E 'error|Error' "$log" | tail -n 20 >&2 || true
		tail -n 15 "$log" >&2
		die "kernel build failed (log: $log)"
	fi
	readelf -h "$s/obj/vmlinux" 2>/dev/null | grep -q 'ELF64' || die "$s/obj/vmlinux is not an ELF64 file"

	local t=$kdir.tmp
	rm -rf "$t" "$kdir"; mkdir -p "$t"
	cp "$s/obj/vmlinux" "$t/vmlinux"
	cp "$s/obj/arch/x86/boot/bzImage" "$t/bzImage"
	cp "$s/obj/.config" "$t/config"
	cp "$s/obj/System.map" "$t/System.map"
	echo "$kernel_inputs" > "$t/inputs.txt"
	cp "$log" "$t/build.log"
	touch "$t/.complete"
	mkdir -p "$(dirname "$kdir")"; mv "$t" "$kdir"
	rm -rf "$s"
}

# ------------------------------------------------------------- initramfs ---
build_initramfs() {
	local s=$scratch_base/initramfs-$ihash
	rm -rf "$s"; mkdir -p "$s"
	msg "building initramfs $ihash"
	gcc -O2 -o "$s/gen_init_cpio" "$srctree/usr/gen_init_cpio.c" ||
		die "compiling gen_init_cpio failed"

	# /bin/vsock-agent: the vsock scenarios from user space (ordinary KVM hosts).
	gcc -static -O2 -pthread -Wall -Wextra -Werror -s -o "$s/vsock-agent" \
		"$agentdir/vsock-agent.c" || die "compiling $agentdir/vsock-agent.c failed"

	# gen_init_cpio list: fixed owners, modes and mtime, so the archive is
	# reproducible and no root/mknod is needed.
	local list=$s/list d a
	{
		for d in /bin /sbin /usr /usr/bin /usr/sbin /dev /proc /sys /tmp /root /etc; do
			echo "dir $d 0755 0 0"
		done
		echo "nod /dev/console 0600 0 0 c 5 1"
		echo "nod /dev/null 0666 0 0 c 1 3"
		echo "file /bin/busybox $busybox 0755 0 0"
		echo "file /init $initdir/init 0755 0 0"
		echo "file /bin/vsock-agent $s/vsock-agent 0755 0 0"
		# Applet links from busybox itself (bin/sh, sbin/reboot, ...).
		"$busybox" --list-full | sort | while read -r a; do
			[ "$a" = bin/busybox ] && continue
			echo "slink /$a /bin/busybox 0777 0 0"
		done
	} > "$list"
	"$s/gen_init_cpio" -t 0 "$list" > "$s/initramfs.cpio" || die "gen_init_cpio failed"
	gzip -9 -n < "$s/initramfs.cpio" > "$s/initramfs.cpio.gz"

	# initramfs-min.cpio: just a tiny libc-free /init (initramfs/init-min.c).
	gcc -static -nostdlib -fno-pie -no-pie -Os -fno-asynchronous-unwind-tables \
		-fno-stack-protector -Wall -Wextra -Werror -Wl,--build-id=none \
		-Wl,-z,noseparate-code -s -o "$s/init-min" "$initdir/init-min.c" ||
		die "compiling $initdir/init-min.c failed"
	{
		echo "dir /dev 0755 0 0"
		echo "dir /root 0700 0 0"
		echo "nod /dev/console 0600 0 0 c 5 1"
		echo "file /init $s/init-min 0755 0 0"
	} > "$s/list-min"
	"$s/gen_init_cpio" -t 0 "$s/list-min" > "$s/initramfs-min.cpio" || die "gen_init_cpio failed"

	local t=$idir.tmp
	rm -rf "$t" "$idir"; mkdir -p "$t"
	mv "$s/initramfs.cpio" "$s/initramfs.cpio.gz" "$s/initramfs-min.cpio" "$t/"
	echo "$initramfs_inputs" > "$t/inputs.txt"
	touch "$t/.complete"
	mkdir -p "$(dirname "$idir")"; mv "$t" "$idir"
	rm -rf "$s"
}

if [ "$rebuild" = 1 ] || ! complete "$kdir" "${kfiles[@]}"; then
	build_kernel
else
	msg "kernel $khash is cached"
fi
if [ "$rebuild" = 1 ] || ! complete "$idir" "${ifiles[@]}"; then
	build_initramfs
else
	msg "initramfs $ihash is cached"
fi

# The combined entry: hard links (same file system) to the two parts.
t=$final.tmp
rm -rf "$t" "$final"; mkdir -p "$t"
for f in "${kfiles[@]}"; do ln -f "$kdir/$f" "$t/$f" 2>/dev/null || cp "$kdir/$f" "$t/$f"; done
for f in "${ifiles[@]}"; do ln -f "$idir/$f" "$t/$f" 2>/dev/null || cp "$idir/$f" "$t/$f"; done
printf 'kernel %s\ninitramfs %s\n' "$khash" "$ihash" > "$t/parts.txt"
touch "$t/.complete"
mv "$t" "$final"

install_outputs
msg "built $hash in $(( $(date +%s) - start )) s -> ${out#"$repo"/}/ (cached in $final)"

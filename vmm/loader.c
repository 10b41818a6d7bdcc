// SPDX-License-Identifier: MIT
/*
 * Kernel loader: ELF64 x86-64 (vmlinux, the test guest) and bzImage (Linux
 * x86 boot protocol, Documentation/arch/x86/boot.rst).
 *
 * The image is hostile input.  Each loader first validates every header
 * field it uses against the image length and guest RAM, with overflow-safe
 * arithmetic, and only then copies anything into the guest: a rejected image
 * leaves guest RAM untouched.
 */
#include "errmsg.h"
#include "loader.h"
#include "base/layout.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An ELF image may have at most this many PT_LOAD segments.  vmlinux has
 * about five; the cap bounds the pairwise overlap check on hostile input. */
#define ELF_MAX_LOAD_SEGMENTS 64

/* loader_read_fd() reads at most this much per read() call. */
#define READ_SLICE (8u << 20)

/* boot.rst, "THE REAL-MODE KERNEL HEADER": offsets in the bzImage file. */
#define BZ_HDR_OFFSET     0x1f1      /* struct setup_header starts here */
#define BZ_JUMP_OFFSET    0x200      /* 2-byte short jump; 0x201 = its offset */
#define BZ_MAGIC_OFFSET   0x202      /* "HdrS" */
#define BZ_HDRS_MAGIC     0x53726448 /* "HdrS" little-endian */
#define BZ_BOOT_FLAG      0xaa55     /* boot_flag at 0x1fe */
#define BZ_SECTOR         512
#define BZ_DEFAULT_SECTS  4          /* "If this field is 0, the real value is 4" */
#define BZ_ENTRY64_OFFSET 0x200      /* "64-bit BOOT PROTOCOL": startup_64 */
#define BZ_MIN_VERSION    0x0206     /* project floor (cmdline_size exists) */
#define BZ_XLF_VERSION    0x020c     /* xloadflags introduced in 2.12 */

/* Protocol version as "major.minor" for messages: 0x020f -> 2.15. */
#define BZ_VER_MAJOR(v) ((unsigned)(v) >> 8)
#define BZ_VER_MINOR(v) ((unsigned)(v) & 0xff)


/* [off, off + n) lies inside a buffer of len bytes; no sum can overflow. */
static bool in_file(uint64_t off, uint64_t n, size_t len)
{
	return off <= len && n <= len - off;
}

/* [a, a + an) and [b, b + bn) intersect; both ranges are known not to wrap
 * (they passed gm_ptr()). */
static bool ranges_overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
	return a < b + bn && b < a + an;
}

/* ---------------------------------------------------------------- ELF -- */

static int check_ehdr(const Elf64_Ehdr *eh, size_t len, char *err, size_t errlen)
{
	uint64_t tbl;

	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return errmsg(err, errlen, EINVAL, "ELF: not a 64-bit ELF (EI_CLASS %u)",
			    eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return errmsg(err, errlen, EINVAL, "ELF: not little-endian (EI_DATA %u)",
			    eh->e_ident[EI_DATA]);
	if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
		return errmsg(err, errlen, EINVAL, "ELF: unknown ELF version %u",
			    eh->e_ident[EI_VERSION]);
	if (eh->e_type != ET_EXEC)
		return errmsg(err, errlen, EINVAL, "ELF: not an executable (e_type %u)",
			    eh->e_type);
	if (eh->e_machine != EM_X86_64)
		return errmsg(err, errlen, EINVAL, "ELF: not x86-64 (e_machine %u)",
			    eh->e_machine);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return errmsg(err, errlen, EINVAL, "ELF: program header entry size %u, expected %zu",
			    eh->e_phentsize, sizeof(Elf64_Phdr));
	if (eh->e_phnum == 0)
		return errmsg(err, errlen, EINVAL, "ELF: no program headers");
	/* e_phnum == PN_XNUM means the real count is in section 0's sh_info
	 * (ELF gABI); no kernel needs that many segments. */
	if (eh->e_phnum == PN_XNUM)
		return errmsg(err, errlen, EINVAL, "ELF: extended program header count (PN_XNUM) not supported");
	tbl = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr); /* <= 65535 * 56 */
	if (!in_file(eh->e_phoff, tbl, len))
		return errmsg(err, errlen, EINVAL,
			    "ELF: program header table (offset %#" PRIx64 ", %u entries) beyond end of file (%zu bytes)",
			    (uint64_t)eh->e_phoff, eh->e_phnum, len);
	return 0;
}

/* Validate one PT_LOAD header.  0 if it can be loaded as is. */
static int check_load_phdr(const struct guest_mem *gm, const Elf64_Phdr *ph,
			   unsigned i, size_t len, char *err, size_t errlen)
{
	if (ph->p_filesz > ph->p_memsz)
		return errmsg(err, errlen, EINVAL,
			    "ELF: segment %u: p_filesz %#" PRIx64 " > p_memsz %#" PRIx64,
			    i, (uint64_t)ph->p_filesz, (uint64_t)ph->p_memsz);
	if (!in_file(ph->p_offset, ph->p_filesz, len))
		return errmsg(err, errlen, EINVAL,
			    "ELF: segment %u: data (offset %#" PRIx64 ", size %#" PRIx64 ") beyond end of file (%zu bytes)",
			    i, (uint64_t)ph->p_offset, (uint64_t)ph->p_filesz, len);
	if (ph->p_memsz == 0)
		return 0; /* empty: occupies no memory, wherever it points */
	/* Below LAYOUT_HIGH_RAM live the zero page, page tables, GDT, command
	 * line and MP table (layout.h): a kernel must not overwrite them. */
	if (ph->p_paddr < LAYOUT_HIGH_RAM)
		return errmsg(err, errlen, EINVAL,
			    "ELF: segment %u at %#" PRIx64 " overlaps low memory below %#llx (boot structures)",
			    i, (uint64_t)ph->p_paddr, LAYOUT_HIGH_RAM);
	if (!gm_ptr(gm, ph->p_paddr, ph->p_memsz))
		return errmsg(err, errlen, EINVAL,
			    "ELF: segment %u [%#" PRIx64 ", +%#" PRIx64 ") is outside guest RAM",
			    i, (uint64_t)ph->p_paddr, (uint64_t)ph->p_memsz);
	return 0;
}

static int load_elf(const struct guest_mem *gm, const uint8_t *img, size_t len,
		    struct kernel_image *out, char *err, size_t errlen)
{
	Elf64_Phdr seg[ELF_MAX_LOAD_SEGMENTS];
	unsigned nseg = 0;
	uint64_t lo = UINT64_MAX, hi = 0;
	Elf64_Ehdr eh;
	bool entry_ok = false;
	int ret;

	if (len < sizeof(eh))
		return errmsg(err, errlen, EINVAL, "ELF: file too short (%zu bytes) for the ELF header (%zu)",
			    len, sizeof(eh));
	/* memcpy, not a cast: the image buffer need not be aligned. */
	memcpy(&eh, img, sizeof(eh));
	ret = check_ehdr(&eh, len, err, errlen);
	if (ret)
		return ret;

	/* Pass 1: validate every PT_LOAD, collect them, touch nothing. */
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, img + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD)
			continue;
		ret = check_load_phdr(gm, &ph, i, len, err, errlen);
		if (ret)
			return ret;
		if (ph.p_memsz == 0)
			continue; /* legal and empty: nothing to place */
		if (nseg == ELF_MAX_LOAD_SEGMENTS)
			return errmsg(err, errlen, EINVAL, "ELF: more than %u PT_LOAD segments",
				    ELF_MAX_LOAD_SEGMENTS);
		for (unsigned j = 0; j < nseg; j++)
			if (ranges_overlap(ph.p_paddr, ph.p_memsz, seg[j].p_paddr, seg[j].p_memsz))
				return errmsg(err, errlen, EINVAL,
					    "ELF: segment %u [%#" PRIx64 ", +%#" PRIx64 ") overlaps another PT_LOAD segment",
					    i, (uint64_t)ph.p_paddr, (uint64_t)ph.p_memsz);
		seg[nseg++] = ph;
		if (ph.p_paddr < lo)
			lo = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > hi) /* no wrap: gm_ptr() passed */
			hi = ph.p_paddr + ph.p_memsz;
		/* vmlinux's e_entry is physical (ENTRY(phys_startup_64) in
		 * arch/x86/kernel/vmlinux.lds.S), so compare with p_paddr. */
		if (eh.e_entry >= ph.p_paddr && eh.e_entry - ph.p_paddr < ph.p_memsz)
			entry_ok = true;
	}
	if (nseg == 0)
		return errmsg(err, errlen, EINVAL, "ELF: no loadable (PT_LOAD) segment");
	if (!entry_ok)
		return errmsg(err, errlen, EINVAL, "ELF: entry point %#" PRIx64 " is outside the loaded segments",
			    (uint64_t)eh.e_entry);

	/* Pass 2: copy file data, zero the rest (bss). */
	for (unsigned j = 0; j < nseg; j++) {
		uint8_t *dst = gm_ptr(gm, seg[j].p_paddr, seg[j].p_memsz);

		memcpy(dst, img + seg[j].p_offset, seg[j].p_filesz);
		/* Checked in pass 1: the whole segment is RAM, so this cannot fail. */
		(void)gm_zero(gm, seg[j].p_paddr + seg[j].p_filesz,
			      seg[j].p_memsz - seg[j].p_filesz);
	}
	out->entry = eh.e_entry;
	out->load_start = lo;
	out->load_end = hi;
	out->is_bzimage = false;
	return 0;
}

/* ------------------------------------------------------------ bzImage -- */

/*
 * Where the kernel runs (and decompresses itself) and how much room it needs
 * there: boot.rst, field "init_size", gives the rule:
 *   if relocatable_kernel: runtime_start = align_up(max(load, pref_address),
 *                                                   kernel_alignment)
 *   else:                  runtime_start = pref_address
 * On success *end is one past the last byte the kernel may use early.
 */
static int bz_runtime_end(const struct guest_mem *gm, const struct setup_header *h,
			  uint64_t *end, char *err, size_t errlen)
{
	uint64_t start = h->pref_address;

	if (h->init_size == 0) {
		*end = 0;
		return 0;
	}
	if (h->relocatable_kernel) {
		uint64_t align = h->kernel_alignment;

		if (align == 0 || (align & (align - 1)))
			return errmsg(err, errlen, EINVAL, "bzImage: kernel_alignment %#" PRIx64 " is not a power of two",
				    align);
		if (start < LAYOUT_HIGH_RAM)
			start = LAYOUT_HIGH_RAM;
		if (start > UINT64_MAX - (align - 1))
			return errmsg(err, errlen, EINVAL, "bzImage: pref_address %#" PRIx64 " overflows when aligned",
				    start);
		start = (start + align - 1) & ~(align - 1);
	}
	if (start < LAYOUT_HIGH_RAM)
		return errmsg(err, errlen, EINVAL, "bzImage: runtime address %#" PRIx64 " is below %#llx (boot structures)",
			    start, LAYOUT_HIGH_RAM);
	if (!gm_ptr(gm, start, h->init_size))
		return errmsg(err, errlen, EINVAL,
			    "bzImage: kernel needs %#x bytes (init_size) at %#" PRIx64 ", beyond guest RAM",
			    h->init_size, start);
	*end = start + h->init_size; /* no wrap: gm_ptr() passed */
	return 0;
}

static int load_bzimage(const struct guest_mem *gm, const uint8_t *img, size_t len,
			struct kernel_image *out, char *err, size_t errlen)
{
	struct setup_header h;
	size_t hdr_end, setup_size, payload;
	unsigned sects;
	uint64_t rt_end = 0;
	uint8_t *dst;
	int ret;

	if (len < BZ_HDR_OFFSET + sizeof(h))
		return errmsg(err, errlen, EINVAL, "bzImage: file too short (%zu bytes) for the setup header",
			    len);
	memcpy(&h, img + BZ_HDR_OFFSET, sizeof(h));
	/* The header ends at 0x202 + the jump's offset byte (boot.rst,
	 * "64-bit BOOT PROTOCOL"); bytes after it are setup code, not fields. */
	hdr_end = BZ_MAGIC_OFFSET + img[BZ_JUMP_OFFSET + 1];
	if (hdr_end < BZ_HDR_OFFSET + sizeof(h))
		memset((uint8_t *)&h + (hdr_end - BZ_HDR_OFFSET), 0,
		       BZ_HDR_OFFSET + sizeof(h) - hdr_end);

	if (h.boot_flag != BZ_BOOT_FLAG)
		return errmsg(err, errlen, EINVAL, "bzImage: bad boot_flag %#x (expected 0xaa55)", h.boot_flag);
	if (h.version < BZ_MIN_VERSION)
		return errmsg(err, errlen, EINVAL, "bzImage: boot protocol %u.%02u too old (need >= 2.06)",
			    BZ_VER_MAJOR(h.version), BZ_VER_MINOR(h.version));
	if (h.version < BZ_XLF_VERSION)
		return errmsg(err, errlen, EINVAL,
			    "bzImage: boot protocol %u.%02u has no 64-bit entry (xloadflags need >= 2.12)",
			    BZ_VER_MAJOR(h.version), BZ_VER_MINOR(h.version));
	/* Every field up to init_size (0x260..0x263) must be inside the
	 * header the kernel declares. */
	if (hdr_end < offsetof(struct setup_header, init_size) + sizeof(h.init_size) + BZ_HDR_OFFSET)
		return errmsg(err, errlen, EINVAL, "bzImage: setup header ends at %#zx, too short for protocol %u.%02u",
			    hdr_end, BZ_VER_MAJOR(h.version), BZ_VER_MINOR(h.version));
	if (!(h.xloadflags & XLF_KERNEL_64))
		return errmsg(err, errlen, EINVAL, "bzImage: no 64-bit entry point (XLF_KERNEL_64 not set)");
	if (!(h.loadflags & LOADED_HIGH))
		return errmsg(err, errlen, EINVAL, "bzImage: kernel does not load high (zImage) - not supported");

	sects = h.setup_sects ? h.setup_sects : BZ_DEFAULT_SECTS;
	setup_size = (size_t)(sects + 1) * BZ_SECTOR; /* boot sector + setup */
	if (len <= setup_size)
		return errmsg(err, errlen, EINVAL, "bzImage: file too short (%zu bytes) for its %u setup sectors",
			    len, sects);
	payload = len - setup_size;
	if (payload <= BZ_ENTRY64_OFFSET)
		return errmsg(err, errlen, EINVAL,
			    "bzImage: protected-mode code (%zu bytes) too short for the 64-bit entry at +0x200",
			    payload);
	dst = gm_ptr(gm, LAYOUT_HIGH_RAM, payload);
	if (!dst)
		return errmsg(err, errlen, EINVAL, "bzImage: kernel (%zu bytes) does not fit in guest RAM at %#llx",
			    payload, LAYOUT_HIGH_RAM);
	ret = bz_runtime_end(gm, &h, &rt_end, err, errlen);
	if (ret)
		return ret;

	memcpy(dst, img + setup_size, payload);
	out->entry = LAYOUT_HIGH_RAM + BZ_ENTRY64_OFFSET;
	out->load_start = LAYOUT_HIGH_RAM;
	out->load_end = LAYOUT_HIGH_RAM + payload;
	if (rt_end > out->load_end)
		out->load_end = rt_end;
	out->is_bzimage = true;
	out->hdr = h;
	return 0;
}

/* -------------------------------------------------------------- API -- */

int loader_load(const struct guest_mem *gm, const void *img, size_t len,
		struct kernel_image *out, char *err, size_t errlen)
{
	const uint8_t *p = img;

	memset(out, 0, sizeof(*out));
	if (!p || len < SELFMAG)
		return errmsg(err, errlen, EINVAL, "neither ELF nor bzImage (only %zu bytes)", len);
	if (memcmp(p, ELFMAG, SELFMAG) == 0)
		return load_elf(gm, p, len, out, err, errlen);
	if (len >= BZ_MAGIC_OFFSET + 4 && memcmp(p + BZ_MAGIC_OFFSET, "HdrS", 4) == 0)
		return load_bzimage(gm, p, len, out, err, errlen);
	return errmsg(err, errlen, EINVAL, "neither ELF nor bzImage (no ELF magic, no \"HdrS\" at 0x202)");
}

/* "a FIFO", ... for a file that is not a regular one. */
static const char *file_kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a plain file";
}

/* Only regular files: a FIFO would block open() and read() until some
 * writer shows up, a device gives endless or no bytes.  The type is
 * checked before opening (devices are never opened) and again on the
 * open file, which O_NONBLOCK keeps from blocking if the path was
 * swapped for a FIFO in between. */
static int check_regular(const struct stat *st, char *err, size_t errlen)
{
	if (!S_ISREG(st->st_mode))
		return errmsg(err, errlen, S_ISDIR(st->st_mode) ? EISDIR : EINVAL,
			      "not a regular file (%s)", file_kind(st->st_mode));
	if (st->st_size <= 0)
		return errmsg(err, errlen, ENODATA, "empty file");
	return 0;
}

int loader_open_file(const char *path, int *fdp, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	int fd, ret;

	*fdp = -1;
	*len = 0;
	if (stat(path, &st) < 0) {
		ret = -errno;
		errmsg(err, errlen, -ret, "%s", strerror(-ret));
		return ret;
	}
	ret = check_regular(&st, err, errlen);
	if (ret)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		errmsg(err, errlen, -ret, "%s", strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		errmsg(err, errlen, -ret, "%s", strerror(-ret));
		goto fail;
	}
	ret = check_regular(&st, err, errlen);
	if (ret)
		goto fail;
	if ((uint64_t)st.st_size > SIZE_MAX) {
		ret = errmsg(err, errlen, EFBIG, "%s", strerror(EFBIG));
		goto fail;
	}
	*fdp = fd;
	*len = (size_t)st.st_size;
	return 0;
fail:
	close(fd);
	return ret;
}

int loader_read_fd(int fd, void *dst, size_t len, char *err, size_t errlen)
{
	uint8_t *p = dst;
	size_t got = 0;

	while (got < len) {
		/* In slices: a signal is handled when read() returns, and one
		 * read() of a whole large initrd can take seconds. */
		size_t want = len - got < READ_SLICE ? len - got : READ_SLICE;
		ssize_t n = read(fd, p + got, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errmsg(err, errlen, errno, "read: %s", strerror(errno));
		if (n == 0)
			return errmsg(err, errlen, EIO, "shrank while being read (%zu of %zu bytes)",
				      got, len);
		got += (size_t)n;
	}
	return 0;
}

int loader_read_file(const char *path, void **buf, size_t *len, char *err, size_t errlen)
{
	void *p;
	size_t size;
	int fd, ret;

	*buf = NULL;
	*len = 0;
	ret = loader_open_file(path, &fd, &size, err, errlen);
	if (ret)
		return ret;
	p = malloc(size);
	if (!p) {
		ret = errmsg(err, errlen, ENOMEM, "cannot allocate %zu bytes to read it", size);
	} else {
		ret = loader_read_fd(fd, p, size, err, errlen);
	}
	close(fd);
	if (ret) {
		free(p);
		return ret;
	}
	*buf = p;
	*len = size;
	return 0;
}

int loader_place_initrd(const struct guest_mem *gm, uint64_t kernel_end,
			uint64_t size, uint64_t max_addr, uint64_t *gpa)
{
	uint64_t top = gm_low_top(gm);
	uint64_t floor = kernel_end > LAYOUT_HIGH_RAM ? kernel_end : LAYOUT_HIGH_RAM;
	uint64_t at;

	if (top == 0)
		return -ENOSPC;
	/* max_addr is the highest byte the initrd may occupy (boot.rst,
	 * initrd_addr_max), so the limit is max_addr + 1, saturating. */
	if (max_addr < top - 1)
		top = max_addr + 1;
	if (size > top)
		return -ENOSPC;
	at = (top - size) & ~0xfffULL; /* page aligned, rounded down */
	if (at < floor)
		return -ENOSPC;
	*gpa = at;
	return 0;
}

uint64_t loader_initrd_max(const struct kernel_image *k)
{
	/* boot.rst: initrd_addr_max exists since 2.03; our bzImages are
	 * >= 2.12, but a zero field would forbid every address, so treat
	 * it like a pre-2.03 kernel (0x37ffffff) rather than fail. */
	if (k->is_bzimage)
		return k->hdr.initrd_addr_max ? k->hdr.initrd_addr_max : 0x37ffffff;
	return LAYOUT_4G - 1;
}

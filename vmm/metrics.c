// SPDX-License-Identifier: MIT
#include "metrics.h"
#include "out_file.h"
#include "vsock/packet.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int metrics_open(const char *path, char *err, size_t errlen)
{
	/* jansson seeds its hash tables from /dev/urandom when the first
	 * object is made: do it now, while files may be opened; the
	 * seccomp filters forbid that once the VM runs (docs/sandbox.md). */
	json_object_seed(0);
	/* Owner-only: the counters describe the guest's traffic. */
	return out_file_open("metrics file", path, O_APPEND, 0600, false, err, errlen);
}

static json_t *u64(uint64_t v)
{
	/* JSON integers are json_int_t (long long): counters never get near
	 * 2^63 in a VMM's life. */
	return json_integer((json_int_t)v);
}

static json_t *desc_buckets(const uint64_t b[VSOCK_SHAPE_DESC_BUCKETS])
{
	return json_pack("{s:o,s:o,s:o,s:o}", "1", u64(b[0]), "2", u64(b[1]),
			 "3", u64(b[2]), "4+", u64(b[3]));
}

static json_t *shape(const struct vsock_shape_stats *s)
{
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
			 "tx_chains", u64(s->tx_chains),
			 "tx_descs", desc_buckets(s->tx_descs),
			 "tx_indirect", u64(s->tx_indirect),
			 "tx_hdr_alone", u64(s->tx_hdr_alone),
			 "tx_hdr_joined", u64(s->tx_hdr_joined),
			 "tx_desc_max", u64(s->tx_desc_max),
			 "tx_chain_max", u64(s->tx_chain_max),
			 "rx_chains", u64(s->rx_chains),
			 "rx_descs", desc_buckets(s->rx_descs),
			 "rx_indirect", u64(s->rx_indirect),
			 "rx_buf_min", u64(s->rx_buf_min),
			 "rx_buf_max", u64(s->rx_buf_max));
}

static json_t *dgram_json(const struct vsock_dgram_stats *g)
{
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,"
			 "s:o,s:o,s:o,s:o,s:o,s:o}",
			 "tx_packets", u64(g->tx_pkts),
			 "tx_bytes", u64(g->tx_bytes),
			 "rx_packets", u64(g->rx_pkts),
			 "rx_bytes", u64(g->rx_bytes),
			 "tx_no_receiver", u64(g->tx_no_receiver),
			 "tx_host_full", u64(g->tx_host_full),
			 "tx_host_err", u64(g->tx_host_err),
			 "rx_bad_line", u64(g->rx_bad_line),
			 "rx_too_big", u64(g->rx_too_big),
			 "rx_no_driver", u64(g->rx_no_driver),
			 "rx_queue_full", u64(g->rx_queue_full),
			 "rx_buf_small", u64(g->rx_buf_small),
			 "queued", u64(g->queued),
			 "udp_out_evicted", u64(g->udp_out_evicted),
			 "udp_in_evicted", u64(g->udp_in_evicted),
			 "udp_socket_err", u64(g->udp_socket_err),
			 "udp_rx_err", u64(g->udp_rx_err),
			 "udp_out_socks", u64(g->udp_out_socks),
			 "udp_in_clients", u64(g->udp_in_clients));
}

static json_t *mmio_json(const struct vmmio_stats *m)
{
	return json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "kind", "virtio-mmio",
			 "bad_access", u64(m->bad_access),
			 "ignored_write", u64(m->ignored_write),
			 "refused_status", u64(m->refused_status),
			 "queue_errors", u64(m->queue_errors),
			 "notifies", u64(m->notifies),
			 "interrupts", u64(m->interrupts));
}

static json_t *vhost_user_json(const struct vhost_user_stats *v)
{
	return json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "kind", "vhost-user",
			 "messages", u64(v->messages),
			 "refused", u64(v->refused),
			 "unknown", u64(v->unknown),
			 "kicks", u64(v->kicks),
			 "calls", u64(v->calls),
			 "queue_errors", u64(v->queue_errors));
}

char *metrics_format(const struct vsock_dev_stats *st, const struct vmmio_stats *mm,
		     const struct vhost_user_stats *vu, uint64_t utc_ms)
{
	const struct { const char *key; uint64_t v; } counters[] = {
		{ "activations", st->activations },
		{ "tx_packets_count", st->tx_pkts },
		{ "rx_packets_count", st->rx_pkts },
		{ "tx_bytes_count", st->tx_bytes },
		{ "rx_bytes_count", st->rx_bytes },
		{ "tx_queue_event_count", st->tx_notifies },
		{ "rx_queue_event_count", st->rx_notifies },
		{ "tx_interrupts", st->tx_interrupts },
		{ "rx_interrupts", st->rx_interrupts },
		{ "rx_waits", st->rx_waits },
		{ "tx_notify_races", st->tx_notify_races },
		{ "rx_notify_races", st->rx_notify_races },
		{ "tx_stalls", st->tx_stalls },
		{ "conns_open", st->conns_open },
		{ "host_accepted", st->host_accepted },
		{ "conn_refused", st->conn_refused },
		{ "conn_limit", st->conn_limit },
		{ "rst_no_conn", st->rst_no_conn },
		{ "short_rx_buf", st->short_rx_buf },
		{ "seq_too_big", st->seq_too_big },
		{ "seq_overflow", st->seq_overflow },
		{ "credit_overrun", st->conn.credit_overrun },
		{ "proto_err", st->conn.proto_err },
		{ "ignored", st->conn.ignored },
		{ "rw_dropped", st->conn.rw_dropped },
		{ "connect_timeout", st->conn.connect_timeout },
		{ "close_timeout", st->conn.close_timeout },
	};
	char features[24];
	json_t *root = json_object(), *v = json_object(), *errs = json_object();
	char *line = NULL, *out = NULL;

	if (!root || !v || !errs)
		goto done;
	snprintf(features, sizeof(features), "0x%llx", (unsigned long long)st->features);
	json_object_set_new(v, "features", json_string(features));
	json_object_set_new(v, "queue_sizes",
			    json_pack("[o,o,o]", u64(st->queue_size[0]),
				      u64(st->queue_size[1]), u64(st->queue_size[2])));
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		json_object_set_new(v, counters[i].key, u64(counters[i].v));
	for (unsigned e = 1; e < VSOCK_PKT_ERR_COUNT; e++)
		json_object_set_new(errs, vsock_pkt_err_name(e), u64(st->pkt_err[e]));
	json_object_set_new(v, "pkt_err", errs);
	errs = NULL;
	json_object_set_new(v, "shape", shape(&st->shape));
	json_object_set_new(v, "dgram", dgram_json(&st->dgram));
	json_object_set_new(root, "utc_timestamp_ms", u64(utc_ms));
	json_object_set_new(root, "vsock", v);
	v = NULL;
	if (mm)
		json_object_set_new(root, "transport", mmio_json(mm));
	else if (vu)
		json_object_set_new(root, "transport", vhost_user_json(vu));
	line = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line && (out = malloc(strlen(line) + 2)))
		sprintf(out, "%s\n", line);
done:
	free(line);
	json_decref(errs);
	json_decref(v);
	json_decref(root);
	return out;
}

int metrics_write(int fd, const struct metrics_sources *src)
{
	struct vsock_dev_stats st = { 0 };
	struct vmmio_stats mm;
	struct vhost_user_stats vu;
	struct timespec ts;
	char *line;
	size_t len, off = 0;
	int rc = 0;

	if (src->vsock)
		vsock_dev_get_stats(src->vsock, &st);
	if (src->mmio)
		vmmio_get_stats(src->mmio, &mm);
	if (src->vhost_user)
		vhost_user_get_stats(src->vhost_user, &vu);
	clock_gettime(CLOCK_REALTIME, &ts);
	line = metrics_format(&st, src->mmio ? &mm : NULL, src->vhost_user ? &vu : NULL,
			      (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
	if (!line)
		return -ENOMEM;
	/* One write() per line keeps lines whole in an O_APPEND file. */
	len = strlen(line);
	while (off < len) {
		ssize_t n = write(fd, line + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		off += (size_t)n;
	}
	free(line);
	return rc;
}

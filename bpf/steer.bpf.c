// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* steer.bpf.c: puts each new connection of a listener group on a socket of the version
 * slot named by the control entry, and moves the requests of a closing listener to the
 * active slot instead of letting the kernel reset them.
 *
 * Attached to the reuseport group with SO_ATTACH_REUSEPORT_EBPF and loaded with
 * expected_attach_type BPF_SK_REUSEPORT_SELECT_OR_MIGRATE, so the kernel also calls it with
 * md->migrating_sk set when a listener closes with queued or half-open requests.
 * Never returns SK_DROP: when no socket can be chosen, SK_PASS without a selection lets the
 * kernel pick by hash, which beats a reset.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "steer.h"

#ifndef ENOENT
#define ENOENT 2
#endif

/* Every worker socket of every version of one listener, by slot.
 * Written by: the loader (steer_loader.cpp) of the version owning a slot, one fd per index;
 * the kernel removes a socket when it closes. Read by: steer_select. */
struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__uint(max_entries, STEER_SOCKARRAY_SIZE);
	__type(key, __u32);
	__type(value, __u64);
} steer_sock_map SEC(".maps");

/* How many indexes of each slot are in use, and by which process.
 * Written by: the loader of the version owning the slot. Read by: steer_select, gwctl. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, STEER_SLOTS);
	__type(key, __u32);
	__type(value, struct steer_slot);
} steer_slot_map SEC(".maps");

/* The control entry (key 0): active slot, canary slot and weight, generation.
 * Written by: the loader (first start) and gwctl cutover/canary, one update each.
 * Read by: steer_select, gwctl. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct steer_control);
} steer_ctl_map SEC(".maps");

/* Per-CPU counters by slot (enum steer_counter). Written by: steer_select.
 * Read by: gwctl status, tests, the gateway's metrics. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STEER_STATS_ROWS);
	__type(key, __u32);
	__type(value, struct steer_stats);
} steer_stats_map SEC(".maps");

static __always_inline void steer_count(__u32 slot, enum steer_counter counter)
{
	__u32 row = slot < STEER_SLOTS ? slot : STEER_STATS_ROW_INVALID;
	struct steer_stats *stats;

	stats = bpf_map_lookup_elem(&steer_stats_map, &row);
	if (stats && counter < STEER_CTR_MAX)
		stats->count[counter]++; /* per-CPU row: no atomics needed */
}

/* Spreads the 4-tuple hash again for the socket index, so that the socket chosen inside a
 * slot does not correlate with the canary decision, which uses the hash itself. */
static __always_inline __u32 steer_mix(__u32 hash)
{
	hash ^= hash >> 16;
	hash *= 0x7feb352d;
	hash ^= hash >> 15;
	return hash;
}

/* Selects a socket of @slot for this request, starting at the index picked by @hash and
 * probing forward over indexes whose socket has closed.
 * Returns: 0 when a socket was selected, -ENOENT when the slot is invalid or has no live
 * socket (other negative errnos come from bpf_sk_select_reuseport). */
static __always_inline int steer_select_in_slot(struct sk_reuseport_md *md, __u32 slot,
						 __u32 hash)
{
	struct steer_slot *info;
	__u32 n, i, key;
	int err = -ENOENT;

	if (slot >= STEER_SLOTS)
		return -ENOENT;
	info = bpf_map_lookup_elem(&steer_slot_map, &slot);
	if (!info)
		return -ENOENT;
	n = info->socket_count;
	if (n == 0)
		return -ENOENT;
	if (n > STEER_MAX_SOCKS)
		n = STEER_MAX_SOCKS;

	for (i = 0; i < STEER_MAX_SOCKS; i++) {
		if (i >= n)
			break;
		key = slot * STEER_MAX_SOCKS + (hash + i) % n;
		err = bpf_sk_select_reuseport(md, &steer_sock_map, &key, 0);
		if (err == 0)
			return 0;
	}
	return err;
}

#define TCP_FLAGS_OFFSET 13 /* in the TCP header, where md's data starts */
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10

/* Returns: true unless the segment is known not to be a connection request (SYN without
 * ACK). The kernel runs this program for any segment that finds no established socket and
 * falls through to the listeners, e.g. a client's RST arriving after the server closed. */
static __always_inline bool steer_is_syn(struct sk_reuseport_md *md)
{
	__u8 flags;

	if (md->ip_protocol != IPPROTO_TCP)
		return true;
	if (bpf_skb_load_bytes(md, TCP_FLAGS_OFFSET, &flags, sizeof(flags)) != 0)
		return true; /* cannot tell: count it as a connection */
	return (flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;
}

SEC("sk_reuseport/migrate")
int steer_select(struct sk_reuseport_md *md)
{
	struct steer_control *ctlp, ctl;
	__u32 zero = 0, hash = md->hash, slot;
	bool migrating = md->migrating_sk != NULL;
	bool canary = false;

	ctlp = bpf_map_lookup_elem(&steer_ctl_map, &zero);
	if (!ctlp)
		return SK_PASS; /* kernel's own pick beats a reset */
	/* One 8-byte load: a concurrent cutover is seen either entirely or not at all. */
	ctl = *ctlp;

	slot = ctl.active_slot;
	/* Canary by the 4-tuple hash, so a retransmitted SYN lands on the same version.
	 * Migrated requests always go to the active slot. */
	if (!migrating && ctl.canary_weight_bp &&
	    hash % STEER_WEIGHT_MAX < ctl.canary_weight_bp) {
		slot = ctl.canary_slot;
		canary = true;
	}

	/* A migrating request may have no skb at all (a queued child): no flags to read. */
	if (!migrating && !steer_is_syn(md)) {
		steer_select_in_slot(md, slot, steer_mix(hash));
		steer_count(slot, STEER_CTR_NOT_SYN);
		return SK_PASS;
	}

	if (steer_select_in_slot(md, slot, steer_mix(hash)) != 0) {
		steer_count(slot, STEER_CTR_FALLBACK);
		return SK_PASS; /* empty or missing slot: no selection, never a drop */
	}

	if (migrating) {
		steer_count(slot, STEER_CTR_MIGRATED);
	} else {
		steer_count(slot, STEER_CTR_SELECTED);
		if (canary)
			steer_count(slot, STEER_CTR_CANARY);
	}
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

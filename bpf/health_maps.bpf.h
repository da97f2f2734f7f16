// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* health_maps.bpf.h: the health program's maps, load-time constants, and the helpers that
 * count, observe into histograms and emit ring-buffer events. Included once, by
 * health.bpf.c; the layouts shared with userspace are in health.h. */
#pragma once


#define AF_INET 2
#define AF_INET6 10
#define NSEC_PER_USEC 1000ULL
/* RTT is sampled at most this often per connection: tcp_probe fires on every segment. */
#define HEALTH_RTT_SAMPLE_NS (100ULL * 1000 * 1000)
/* health_accepted_map: 2^HEALTH_ACCEPTED_BITS entries. */
#define HEALTH_ACCEPTED_BITS 18
#define HEALTH_ACCEPTED_TAG_BITS 24 /* the low bits of an entry's `established`: whose it is */
#define HEALTH_ACCEPTED_US_MASK ((1ULL << (64 - HEALTH_ACCEPTED_TAG_BITS)) - 1)

/* Set by the loader before load (read-only afterwards, so the verifier prunes the other
 * branch): true when the kprobe variant is on. Only kprobes need upstream connections in
 * health_conns_map too (they cannot read sk_storage); the other variants keep an upstream
 * connection's state in its sk_storage and skip a hash update and delete per connection. */
const volatile bool health_conns_by_address = false;
/* Set by the loader before load: the kernel's HZ and this set of pins' version-mark base
 * (health_meta.mark_seconds) in jiffies, to decode the mark (sk_rcvtimeo counts jiffies).
 * health_hz 0 matches no socket. */
const volatile __u64 health_hz = 0;
const volatile __u64 health_mark_base = 0;

/* Cost. The tracepoints are host-wide: inet_sock_set_state and tcp_probe fire for every TCP
 * socket on the host (a client's, a neighbour's), several times per connection and once per
 * segment. The programs therefore reject a socket that is not ours with two direct field
 * reads (the version mark; the sk_storage pointer, NULL for a socket without storage), read
 * fields of BTF-typed pointers directly instead of through bpf_probe_read_kernel, and take the
 * clock only on transitions they measure. Accepted connections get no storage of their own
 * (their slot is in the inherited mark) but one entry in a directly indexed array while
 * established. Measured by build/bin/bench_health_connections (per connection) and
 * tools/bench/health (through the gateway); the results are in docs/performance.md. */

/* The state of each upstream connection, created at SYN_SENT. Written and read by: the tp_btf
 * and fentry programs. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct health_sk);
} health_sk_map SEC(".maps");

/* An established accepted connection: when it became established (for its lifetime at CLOSE)
 * and its last RTT sample (the samplers' rate limit). */
struct health_accepted {
	__u64 established; /* (ESTABLISHED time in us << HEALTH_ACCEPTED_TAG_BITS) | tag; 0: free */
	__u64 last_rtt_ns;
};

/* Established accepted connections. A connection has two candidate entries and a tag, from its
 * client's address and port and its 4-tuple (see health_accepted_place_of). Why not a hash map keyed by the socket: its update
 * and delete (bucket lock, LRU list, element recycling) and a lookup per segment were most of
 * the programs' time per connection (tools/bench/results/health-sittings.md), while an
 * array entry is plain memory the verifier inlines. The cost is that connections can compete
 * for an entry: when both candidates are taken the newest connection overwrites the first (as
 * an LRU would evict), and the connection it displaced loses its lifetime and RTT samples,
 * never its counts (opened, closed, resets, retransmits come from the mark). With 2^18 entries
 * and 10000 established connections from as many addresses that is about 1 in 700; among one
 * address's connections it never happens. Written by: health_state
 * (ESTABLISHED: claim, CLOSE: release), the RTT samplers (last_rtt_ns). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << HEALTH_ACCEPTED_BITS);
	__type(key, __u32);
	__type(value, struct health_accepted);
} health_accepted_map SEC(".maps");

/* Kprobe variant only (health_conns_by_address): upstream connections by kernel socket
 * address, as kprobes cannot read sk_storage. Written by: health_state (insert at ESTABLISHED,
 * delete at CLOSE). Read by: health_rtt_kprobe. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct health_conn);
} health_conns_map SEC(".maps");

/* Listener ports and upstream ports, a bitmap per side (see HEALTH_PORT_WORDS). Written by: the
 * gateways. Read by: every test of a mark, sk_storage or by-address lookup, first. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, HEALTH_SIDES * HEALTH_PORT_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} health_ports_map SEC(".maps");

/* Gateway processes: tgid -> slot. Written by: each gateway at start (deleted at exit).
 * Read by: health_state at SYN_SENT, the connect-start hooks. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} health_procs_map SEC(".maps");

/* Upstream endpoints of the gateway's clusters -> endpoint index. Written by: the gateway.
 * Read by: health_state at SYN_SENT. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct health_endpoint);
	__type(value, __u32);
} health_endpoints_map SEC(".maps");

/* Connect start from tcp_v4_connect (kprobe/fentry variants), by socket address, consumed at
 * SYN_SENT. Written by: health_connect_*. Read and deleted by: health_state. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u64);
} health_connect_map SEC(".maps");

/* First SYN-ACK time (us, tcp clock) of half-open connections whose SYN-ACK was retransmitted:
 * Karn's rule gives such a child no RTT sample, so its handshake is measured from here.
 * Written by: health_synack_retransmit. Read and deleted by: health_state. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct health_tuple);
	__type(value, __u64);
} health_synack_map SEC(".maps");

/* Log2 histograms, row (kind, slot, index). Written by: the programs. Read by: readers. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HEALTH_HIST_ROWS);
	__type(key, __u32);
	__type(value, struct health_hist);
} health_hist_map SEC(".maps");

/* Counters, row slot * HEALTH_SIDES + side, plus the global row (events, drops). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HEALTH_CTR_ROWS);
	__type(key, __u32);
	__type(value, struct health_counters);
} health_ctr_map SEC(".maps");

/* Spike threshold per event kind, in us (0: no spike events of that kind). Written by: the
 * reader that drains the ring buffer (min(threshold, max(floor, factor x rolling p99))).
 * Read by: the programs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HEALTH_EV_MAX);
	__type(key, __u32);
	__type(value, __u64);
} health_thresh_map SEC(".maps");

/* Spike, reset and retransmit events. Drained by one reader (health_meta.reader_pid). The
 * loader may shrink it before load (tests fill it on purpose). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} health_events SEC(".maps");

/* Userspace-only state pinned with the rest (see health.h): slots, readers' meta, event log. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, HEALTH_SLOTS);
	__type(key, __u32);
	__type(value, struct health_slot);
} health_slots_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct health_meta);
} health_meta_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, HEALTH_LOG_SIZE);
	__type(key, __u32);
	__type(value, struct health_log_entry);
} health_log_map SEC(".maps");

/* Returns: k such that 2^(k-1) < v <= 2^k (0 for v <= 1), capped at the last bucket. */
static __always_inline __u32 health_bucket(__u64 v)
{
	__u32 r = 0, shift;

	if (v <= 1)
		return 0;
	v -= 1;
	shift = (v > 0xFFFFFFFFULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	r += 1;
	return r < HEALTH_BUCKETS ? r : HEALTH_BUCKETS - 1;
}

static __always_inline void health_observe(__u32 kind, __u32 slot, __u32 index, __u64 value_us)
{
	__u32 row = (kind * HEALTH_SLOTS + slot) * HEALTH_MAX_INDEX + index;
	struct health_hist *h;
	__u32 b;

	if (slot >= HEALTH_SLOTS || index >= HEALTH_MAX_INDEX)
		return;
	h = bpf_map_lookup_elem(&health_hist_map, &row);
	if (!h)
		return;
	/* The mask is a no-op (health_bucket caps at the last bucket) that older verifiers (6.1)
	 * need to see the index bounded; the empty asm keeps clang from proving it away. */
	b = health_bucket(value_us);
	asm volatile("" : "+r"(b));
	b &= HEALTH_BUCKETS - 1;
	h->buckets[b]++; /* per-CPU row: no atomics needed */
	h->sum_us += value_us;
}

static __always_inline void health_count(__u32 slot, __u32 side, __u32 counter)
{
	__u32 row = slot * HEALTH_SIDES + side;
	struct health_counters *c;

	if (slot >= HEALTH_SLOTS || side >= HEALTH_SIDES)
		return;
	c = bpf_map_lookup_elem(&health_ctr_map, &row);
	if (c && counter < 16)
		c->count[counter]++;
}

static __always_inline void health_count_global(__u32 counter)
{
	__u32 row = HEALTH_CTR_ROW_GLOBAL;
	struct health_counters *c = bpf_map_lookup_elem(&health_ctr_map, &row);

	if (c && counter < 16)
		c->count[counter]++;
}

/* Fills the event's tuple from the socket: src = local end, dst = remote end. */
static __always_inline void health_fill_tuple(struct health_event *e, const struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	e->family = family;
	e->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		BPF_CORE_READ_INTO((__u32 *)e->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->daddr, sk, __sk_common.skc_daddr);
	}
}

/* Whose a sample is: the version slot, the side, and the listener or upstream index. */
struct health_who {
	__u32 slot;
	__u32 side;
	__u32 index;
};

/* Emits one event; when the ring buffer is full the event is dropped and counted. */
static __always_inline void health_emit(__u32 kind, const struct health_who *who, const struct sock *sk,
					__u64 value_us, __u64 threshold_us)
{
	struct health_event *e;

	e = bpf_ringbuf_reserve(&health_events, sizeof(*e), 0);
	if (!e) {
		health_count_global(HEALTH_GLOBAL_DROPPED);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->time_ns = bpf_ktime_get_ns();
	e->kind = kind;
	e->slot = who->slot;
	e->side = who->side;
	e->value_us = value_us;
	e->threshold_us = threshold_us;
	health_fill_tuple(e, sk);
	bpf_ringbuf_submit(e, 0);
	health_count_global(kind);
}

/* A latency sample: into its histogram, and an event when above the kind's threshold. */
static __always_inline void health_latency(__u32 hist, __u32 event, const struct health_who *who,
					   const struct sock *sk, __u64 value_us)
{
	__u64 *threshold;

	health_observe(hist, who->slot, who->index, value_us);
	threshold = bpf_map_lookup_elem(&health_thresh_map, &event);
	if (threshold && *threshold && value_us > *threshold)
		health_emit(event, who, sk, value_us, *threshold);
}

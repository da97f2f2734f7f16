// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* health.bpf.c: TCP health of the gateway's connections, per version slot.
 *
 * Which connections: those accepted on a listening socket the gateway marked with its version
 * slot (the listener's receive timeout, which every accepted socket inherits: see
 * HEALTH_MARK_SECONDS in health.h; exact per-version attribution though all versions share one
 * port), and those a registered gateway process (health_procs_map, by tgid) opens to one of its
 * upstream endpoints (health_endpoints_map). Nothing else on the host is measured, so the
 * numbers are exact even though the tracepoints are system-wide.
 *
 * What: handshake latency (first SYN-ACK sent -> ESTABLISHED, server side), upstream connect
 * latency (SYN_SENT -> ESTABLISHED), connection lifetime, smoothed RTT, resets sent and
 * received, retransmits. Latencies above the thresholds in health_thresh_map, and every
 * reset and retransmit, become ring-buffer events; a full ring buffer drops the event and
 * counts the drop, never delaying the packet path.
 *
 * Variants, all in this one object: the tracepoint programs always load; the RTT sampler and
 * the connect-start hook come in three flavours (tp_btf tcp_probe / set_state, kprobe,
 * fentry) and the loader turns on exactly one flavour with bpf_program__set_autoload()
 * before load. One object rather than three: the maps are defined once (no drift between
 * copies, one set of pins), and the variant choice is a load-time switch that the loader can
 * retry with the next flavour after a refused load or attach.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "health.h"

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

static __always_inline void health_tuple_of(struct health_tuple *t, const struct sock_common *c)
{
	__u16 family = BPF_CORE_READ(c, skc_family);

	__builtin_memset(t, 0, sizeof(*t));
	t->family = family;
	t->lport = BPF_CORE_READ(c, skc_num);
	t->rport = bpf_ntohs(BPF_CORE_READ(c, skc_dport));
	if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&t->laddr, c, skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&t->raddr, c, skc_v6_daddr.in6_u.u6_addr8);
	} else {
		BPF_CORE_READ_INTO((__u32 *)t->laddr, c, skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)t->raddr, c, skc_daddr);
	}
}

/* True when `port` (host order) is a marked listener's port (HEALTH_SIDE_LISTENER) or an upstream
 * endpoint's (HEALTH_SIDE_UPSTREAM), as some gateway registered it. */
static __always_inline bool health_port(__u32 side, __u16 port)
{
	__u32 word = side * HEALTH_PORT_WORDS + port / 64;
	__u64 *bits = bpf_map_lookup_elem(&health_ports_map, &word);

	return bits && (*bits & (1ULL << (port % 64)));
}

/* Whose a marked socket is (a listener of ours, or a connection it accepted): true and `who`
 * filled from the socket's receive timeout `timeout` (sk_rcvtimeo), see HEALTH_MARK_SECONDS. Two
 * comparisons for a socket that is not marked. */
static __always_inline bool health_mark_decode(__u64 timeout, struct health_who *who)
{
	__u64 code;

	if (timeout < health_mark_base || timeout - health_mark_base >= HEALTH_MARK_CODES * health_hz)
		return false;
	code = (timeout - health_mark_base) / health_hz;
	who->slot = code / HEALTH_MAX_INDEX;
	who->side = HEALTH_SIDE_LISTENER;
	who->index = code % HEALTH_MAX_INDEX;
	return true;
}

/* health_mark_decode of a BTF-typed socket (tp_btf, fentry). */
static __always_inline bool health_marked(const struct sock *sk, struct health_who *who)
{
	return health_mark_decode((__u64)sk->sk_rcvtimeo, who);
}

/* The same for an established socket, tested on its local port first (see HEALTH_PORT_WORDS).
 * Only while established: by CLOSE (and at the resets an abortive close sends after it) the
 * kernel may have released the local port, and skc_num reads 0 (measured: the tests' closes
 * went uncounted with the port test there). */
static __always_inline bool health_marked_established(const struct sock *sk, struct health_who *who)
{
	return health_port(HEALTH_SIDE_LISTENER, sk->__sk_common.skc_num) && health_marked(sk, who);
}

/* health_marked_established for a kprobe's untyped pointer. */
static __always_inline bool health_marked_established_kprobe(const struct sock *sk, struct health_who *who)
{
	return health_port(HEALTH_SIDE_LISTENER, BPF_CORE_READ(sk, __sk_common.skc_num)) &&
	       health_mark_decode((__u64)BPF_CORE_READ(sk, sk_rcvtimeo), who);
}

/* The state of an upstream connection of ours (BTF pointer: tp_btf, fentry), NULL otherwise.
 * Two reads turn most sockets away before the helper call: the remote port (see
 * health_ports_map; in the socket's first cache line, which the kernel has just used) and then
 * the storage pointer (NULL for a socket without any BPF storage, though sockets can carry
 * other programs' storage; in a line the packet path does not otherwise touch). */
static __always_inline struct health_sk *health_upstream_of(const struct sock *sk)
{
	if (!sk || !health_port(HEALTH_SIDE_UPSTREAM, bpf_ntohs(sk->__sk_common.skc_dport)) || !sk->sk_bpf_storage)
		return NULL;
	return bpf_sk_storage_get(&health_sk_map, (struct sock *)sk, 0, 0);
}

static __always_inline struct health_who health_who_of(const struct health_sk *s)
{
	struct health_who who = {.slot = s->slot, .side = s->side, .index = s->index};

	return who;
}

/* Returns: the slot of the calling process when it is a registered gateway, else -1. */
static __always_inline int health_proc_slot(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 *slot = bpf_map_lookup_elem(&health_procs_map, &tgid);

	return slot ? (int)*slot : -1;
}

/* Handshake latency of an accepted connection reaching ESTABLISHED. */
static __always_inline void health_handshake(const struct health_who *who, struct sock *sk, __u64 now)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	struct health_tuple t;
	__u64 *first_synack, handshake_us = 0;
	__u32 srtt;

	if (!tp)
		return;
	/* SYN-ACK retransmitted (the child inherits the request's retransmissions as
	 * total_retrans): from the first SYN-ACK, sent when the SYN arrived. Otherwise the
	 * kernel's first RTT sample is exactly SYN-ACK -> ACK, and the tuple-keyed lookup is
	 * skipped: it is the common case. */
	if (tp->total_retrans) {
		health_tuple_of(&t, &sk->__sk_common);
		first_synack = bpf_map_lookup_elem(&health_synack_map, &t);
		if (first_synack) {
			__u64 now_us = now / NSEC_PER_USEC;

			handshake_us = now_us > *first_synack ? now_us - *first_synack : 0;
			bpf_map_delete_elem(&health_synack_map, &t);
			health_latency(HEALTH_H_HANDSHAKE, HEALTH_EV_HANDSHAKE, who, sk, handshake_us);
			return;
		}
	}
	srtt = tp->srtt_us >> 3;
	handshake_us = srtt ? srtt : 1;
	health_latency(HEALTH_H_HANDSHAKE, HEALTH_EV_HANDSHAKE, who, sk, handshake_us);
}

/* The client end of an accepted connection, as far as placing its entry needs it: its address
 * folded to 32 bits, its port, and the kernel's hash of the 4-tuple (skc_hash, set when the
 * connection entered the established table, before ESTABLISHED). */
struct health_peer {
	__u32 addr;
	__u32 port;
	__u32 tuple_hash;
};

/* health_peer of a BTF-typed socket (tp_btf, fentry): direct reads of its first cache line. */
static __always_inline struct health_peer health_peer_of(const struct sock *sk)
{
	const struct sock_common *c = &sk->__sk_common;
	struct health_peer peer = {.port = bpf_ntohs(c->skc_dport), .tuple_hash = c->skc_hash};

	if (c->skc_family == AF_INET6)
		peer.addr = c->skc_v6_daddr.in6_u.u6_addr32[0] ^ c->skc_v6_daddr.in6_u.u6_addr32[1] ^
			    c->skc_v6_daddr.in6_u.u6_addr32[2] ^ c->skc_v6_daddr.in6_u.u6_addr32[3];
	else
		peer.addr = c->skc_daddr;
	return peer;
}

/* The same for a kprobe's untyped pointer. */
static __always_inline struct health_peer health_peer_of_kprobe(const struct sock *sk)
{
	struct health_peer peer = {
		.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)),
		.tuple_hash = BPF_CORE_READ(sk, __sk_common.skc_hash),
	};
	__u32 v6[4];

	if (BPF_CORE_READ(sk, __sk_common.skc_family) == AF_INET6) {
		BPF_CORE_READ_INTO(&v6, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32);
		peer.addr = v6[0] ^ v6[1] ^ v6[2] ^ v6[3];
	} else {
		peer.addr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	}
	return peer;
}

/* Where an accepted connection's entry in health_accepted_map is: two candidates in one cache
 * line, and a tag. The first candidate is a hash of the client's address plus the client's port,
 * so one client's connections sit side by side (each of its ports has its own entry, and ports
 * handed out in sequence share cache lines): a gateway behind a load balancer or a NAT sees many
 * connections from few addresses. With the whole 4-tuple hashed instead, every connection's
 * entry is a random line of the 4 MB table: a cache miss at ESTABLISHED and again at CLOSE
 * (tools/bench/results/health-sittings.md). The tag, from the tuple hash, tells apart two clients
 * whose entries meet; it is odd, so an entry in use never reads 0. 24 bits: a false match is
 * about as likely as two live connections with the same 32-bit tuple hash. */
struct health_accepted_place {
	__u32 first, second;
	__u64 tag;
};

static __always_inline struct health_accepted_place health_accepted_place_of(struct health_peer peer)
{
	const __u32 mask = (1U << HEALTH_ACCEPTED_BITS) - 1;
	__u32 base = (peer.addr * 0x9E3779B1U) >> (32 - HEALTH_ACCEPTED_BITS); /* 2^32 / golden ratio */
	struct health_accepted_place p = {
		.first = (base + peer.port) & mask,
		.tag = (peer.tuple_hash & ((1ULL << HEALTH_ACCEPTED_TAG_BITS) - 1)) | 1,
	};

	p.second = p.first ^ 1;
	return p;
}

/* ESTABLISHED: claims a free candidate (compare-and-swap: another CPU may be claiming it), else
 * overwrites the first. */
static __always_inline void health_accepted_claim(struct health_peer peer, __u64 now)
{
	struct health_accepted_place p = health_accepted_place_of(peer);
	__u64 established = ((now / NSEC_PER_USEC) << HEALTH_ACCEPTED_TAG_BITS) | p.tag;
	struct health_accepted *first = bpf_map_lookup_elem(&health_accepted_map, &p.first);
	struct health_accepted *second = bpf_map_lookup_elem(&health_accepted_map, &p.second);

	if (!first || !second)
		return;
	if (__sync_val_compare_and_swap(&first->established, 0, established) == 0) {
		first->last_rtt_ns = 0;
	} else if (__sync_val_compare_and_swap(&second->established, 0, established) == 0) {
		second->last_rtt_ns = 0;
	} else {
		first->established = established; /* an aligned 8-byte store: never torn */
		first->last_rtt_ns = 0;
	}
}

/* The connection's entry, NULL when it has none (the programs were loaded after it was
 * established, or another connection displaced it). */
static __always_inline struct health_accepted *health_accepted_find(struct health_peer peer)
{
	struct health_accepted_place p = health_accepted_place_of(peer);
	const __u64 tag_mask = (1ULL << HEALTH_ACCEPTED_TAG_BITS) - 1;
	struct health_accepted *entry;

	entry = bpf_map_lookup_elem(&health_accepted_map, &p.first);
	if (entry && (entry->established & tag_mask) == p.tag)
		return entry;
	entry = bpf_map_lookup_elem(&health_accepted_map, &p.second);
	if (entry && (entry->established & tag_mask) == p.tag)
		return entry;
	return NULL;
}

/* CLOSE: releases the connection's entry and returns its lifetime in us (-1: it had none). */
static __always_inline __s64 health_accepted_release(struct health_peer peer, __u64 now)
{
	struct health_accepted *entry = health_accepted_find(peer);
	__u64 established;

	if (!entry)
		return -1;
	established = entry->established;
	if (__sync_val_compare_and_swap(&entry->established, established, 0) != established)
		return -1; /* displaced meanwhile */
	/* Both times are modulo 2^40 us (12.7 days): the difference is right for any shorter
	 * lifetime, across the wrap too. */
	return ((now / NSEC_PER_USEC) - (established >> HEALTH_ACCEPTED_TAG_BITS)) & HEALTH_ACCEPTED_US_MASK;
}

/* An accepted connection (marked, not the listener) reached ESTABLISHED or CLOSE. */
static __always_inline void health_accepted_state(const struct health_who *who, struct sock *sk, int oldstate,
						  int newstate)
{
	__u64 now = bpf_ktime_get_ns();
	__s64 lifetime_us;

	if (newstate == TCP_ESTABLISHED) {
		health_handshake(who, sk, now);
		health_accepted_claim(health_peer_of(sk), now);
		health_count(who->slot, who->side, HEALTH_CTR_OPENED);
		return;
	}
	/* CLOSE. From SYN_RECV: never established, its opening was never counted. Otherwise it is
	 * counted closed even when its entry is gone (then only its lifetime is lost). */
	if (oldstate == TCP_SYN_RECV)
		return;
	health_count(who->slot, who->side, HEALTH_CTR_CLOSED);
	lifetime_us = health_accepted_release(health_peer_of(sk), now);
	if (lifetime_us >= 0)
		health_observe(HEALTH_H_LIFETIME, who->slot, who->index, lifetime_us);
}

/* For the kprobe RTT sampler only: the upstream connection by address (see
 * health_conns_by_address). */
static __always_inline void health_track(const struct health_sk *s, const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct health_conn conn = {.slot = s->slot, .side = s->side, .index = s->index, .last_rtt_ns = 0};

	if (health_conns_by_address)
		bpf_map_update_elem(&health_conns_map, &key, &conn, BPF_ANY);
}

static __always_inline void health_untrack(const struct sock *sk)
{
	__u64 key = (__u64)sk;

	if (health_conns_by_address)
		bpf_map_delete_elem(&health_conns_map, &key);
}

/* An upstream connection of ours reached ESTABLISHED or CLOSE. */
static __always_inline void health_upstream_state(struct health_sk *s, struct sock *sk, int newstate)
{
	struct health_who who = health_who_of(s);
	__u64 now = bpf_ktime_get_ns();

	if (newstate == TCP_ESTABLISHED) {
		if (s->start_ns && now > s->start_ns)
			health_latency(HEALTH_H_CONNECT, HEALTH_EV_CONNECT, &who, sk, (now - s->start_ns) / NSEC_PER_USEC);
		s->est_ns = now;
		health_count(s->slot, s->side, HEALTH_CTR_OPENED);
		health_track(s, sk);
		return;
	}
	if (s->est_ns) {
		health_count(s->slot, s->side, HEALTH_CTR_CLOSED);
		s->est_ns = 0;
	}
	/* The storage stays: an abortive close (SO_LINGER 0) sets CLOSE first and sends its reset
	 * after, and that reset is still ours. */
	health_untrack(sk);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(health_state, struct sock *sk, int oldstate, int newstate)
{
	struct health_who who;
	struct health_sk *s;

	/* Only these transitions are measured: SYN_RECV, FIN_WAIT*, CLOSE_WAIT, LAST_ACK and
	 * CLOSING (half of all) return before the socket is read. */
	if (newstate != TCP_SYN_SENT && newstate != TCP_ESTABLISHED && newstate != TCP_CLOSE)
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;

	if (newstate == TCP_SYN_SENT) {
		struct health_endpoint ep = {};
		__u64 key = (__u64)sk, *start;
		__u32 *index;
		int slot;

		ep.port = bpf_ntohs(sk->__sk_common.skc_dport);
		if (!health_port(HEALTH_SIDE_UPSTREAM, ep.port))
			return 0;
		slot = health_proc_slot();
		if (slot < 0)
			return 0;
		ep.family = BPF_CORE_READ(sk, __sk_common.skc_family);
		if (ep.family == AF_INET6)
			BPF_CORE_READ_INTO(&ep.addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
		else
			BPF_CORE_READ_INTO((__u32 *)ep.addr, sk, __sk_common.skc_daddr);
		index = bpf_map_lookup_elem(&health_endpoints_map, &ep);
		if (!index)
			return 0;
		s = bpf_sk_storage_get(&health_sk_map, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (!s)
			return 0;
		s->slot = slot;
		s->side = HEALTH_SIDE_UPSTREAM;
		s->index = *index;
		s->est_ns = 0;
		s->last_rtt_ns = 0;
		/* The kprobe/fentry variants saw tcp_v4_connect itself, a little earlier. */
		start = bpf_map_lookup_elem(&health_connect_map, &key);
		if (start) {
			s->start_ns = *start;
			bpf_map_delete_elem(&health_connect_map, &key);
		} else {
			s->start_ns = bpf_ktime_get_ns();
		}
		return 0;
	}

	if (newstate == TCP_ESTABLISHED ? health_marked_established(sk, &who) : health_marked(sk, &who)) {
		if (oldstate != TCP_LISTEN) /* LISTEN -> CLOSE: a marked listener closing */
			health_accepted_state(&who, sk, oldstate, newstate);
		return 0;
	}
	s = health_upstream_of(sk);
	if (s)
		health_upstream_state(s, sk, newstate);
	return 0;
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(health_synack_retransmit, const struct sock *listener, const struct request_sock *req)
{
	struct health_tuple t;
	struct health_who who;
	__u64 first;

	if (!listener || !health_marked(listener, &who))
		return 0;
	first = BPF_CORE_READ((struct tcp_request_sock *)req, snt_synack);
	if (!first)
		return 0;
	health_tuple_of(&t, &req->__req_common);
	bpf_map_update_elem(&health_synack_map, &t, &first, BPF_NOEXIST);
	return 0;
}

/* A reset or retransmit on a connection of ours (accepted: from its mark, so even after its
 * CLOSE, as an abortive close sends its reset after; or upstream), not on a listener: counted
 * on its side, and an event. */
static __always_inline void health_tcp_incident(const struct sock *sk, __u32 counter, __u32 event)
{
	struct health_who who;
	struct health_sk *s;

	if (!sk)
		return;
	if (health_marked(sk, &who)) {
		if (sk->__sk_common.skc_state == TCP_LISTEN)
			return;
	} else {
		s = health_upstream_of(sk);
		if (!s)
			return;
		who = health_who_of(s);
	}
	health_count(who.slot, who.side, counter);
	health_emit(event, &who, sk, 0, 0);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(health_retransmit, const struct sock *sk, const struct sk_buff *skb)
{
	health_tcp_incident(sk, HEALTH_CTR_RETRANSMITS, HEALTH_EV_RETRANSMIT);
	return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(health_reset_sent, const struct sock *sk, const struct sk_buff *skb)
{
	health_tcp_incident(sk, HEALTH_CTR_RESETS_SENT, HEALTH_EV_RESET_SENT);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(health_reset_received, struct sock *sk)
{
	health_tcp_incident(sk, HEALTH_CTR_RESETS_RECEIVED, HEALTH_EV_RESET_RECEIVED);
	return 0;
}

/* ---- Variant programs: exactly one RTT sampler and at most one connect hook load. ---- */

/* RTT samples are taken at most once per HEALTH_RTT_SAMPLE_NS per connection (`last_ns`: its
 * last sample time): true when one is due now. Checked before the socket is read. */
static __always_inline bool health_rtt_due(const __u64 *last_ns, __u64 now)
{
	return !*last_ns || now - *last_ns >= HEALTH_RTT_SAMPLE_NS;
}

/* A due RTT sample: `srtt` is the kernel's smoothed RTT in us (0: none measured yet, as after a
 * retransmitted SYN-ACK, Karn's rule: then the next segment tries again). */
static __always_inline void health_rtt(__u32 slot, __u32 side, __u32 index, __u64 *last_ns, __u64 now,
				       __u32 srtt)
{
	if (!srtt)
		return;
	*last_ns = now;
	health_observe(side == HEALTH_SIDE_LISTENER ? HEALTH_H_SRTT_LISTENER : HEALTH_H_SRTT_UPSTREAM,
		       slot, index, srtt);
}

/* tp_btf and fentry: the socket is a BTF pointer; an accepted connection's state is in
 * health_accepted_map, an upstream one's in sk_storage. */
static __always_inline void health_rtt_btf(struct sock *sk)
{
	struct health_who who;
	struct tcp_sock *tp;
	__u64 *last_ns, now;

	if (health_marked_established(sk, &who)) {
		struct health_accepted *a = health_accepted_find(health_peer_of(sk));

		if (!a)
			return; /* displaced, or established before the programs were loaded */
		barrier_var(a); /* keeps clang from forming &a->last_rtt_ns before the NULL test */
		last_ns = &a->last_rtt_ns;
	} else {
		struct health_sk *s = health_upstream_of(sk);

		if (!s || !s->est_ns)
			return;
		barrier_var(s);
		who = health_who_of(s);
		last_ns = &s->last_rtt_ns;
	}
	now = bpf_ktime_get_ns();
	if (!health_rtt_due(last_ns, now))
		return;
	tp = bpf_skc_to_tcp_sock(sk);
	if (tp)
		health_rtt(who.slot, who.side, who.index, last_ns, now, tp->srtt_us >> 3);
}

/* The connect start, before SYN_SENT, for registered gateway processes only. */
static __always_inline void health_connect_start(const struct sock *sk)
{
	__u64 key = (__u64)sk, now;

	if (health_proc_slot() < 0)
		return;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&health_connect_map, &key, &now, BPF_ANY);
}

/* tcp_probe and tcp_rcv_established fire for every segment of every socket on the host: the
 * mark and sk_storage checks (two field reads for a socket of neither kind) reject the sockets
 * that are not ours. kprobes cannot read sk_storage and look an upstream socket up by address. */
SEC("tp_btf/tcp_probe")
int BPF_PROG(health_rtt_tp, struct sock *sk, const struct sk_buff *skb)
{
	health_rtt_btf(sk);
	return 0;
}

SEC("kprobe/tcp_rcv_established")
int BPF_KPROBE(health_rtt_kprobe, struct sock *sk)
{
	struct health_who who;
	__u64 key = (__u64)sk, *last_ns, now;

	if (health_marked_established_kprobe(sk, &who)) {
		struct health_accepted *a = health_accepted_find(health_peer_of_kprobe(sk));

		if (!a)
			return 0;
		barrier_var(a);
		last_ns = &a->last_rtt_ns;
	} else {
		struct health_conn *c;

		if (!health_port(HEALTH_SIDE_UPSTREAM, bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport))))
			return 0;
		c = bpf_map_lookup_elem(&health_conns_map, &key);
		if (!c)
			return 0;
		barrier_var(c);
		who.slot = c->slot;
		who.side = c->side;
		who.index = c->index;
		last_ns = &c->last_rtt_ns;
	}
	now = bpf_ktime_get_ns();
	if (health_rtt_due(last_ns, now))
		health_rtt(who.slot, who.side, who.index, last_ns, now,
			   BPF_CORE_READ((struct tcp_sock *)sk, srtt_us) >> 3);
	return 0;
}

SEC("kprobe/tcp_v4_connect")
int BPF_KPROBE(health_connect_kprobe, struct sock *sk)
{
	health_connect_start(sk);
	return 0;
}

SEC("fentry/tcp_rcv_established")
int BPF_PROG(health_rtt_fentry, struct sock *sk)
{
	health_rtt_btf(sk);
	return 0;
}

SEC("fentry/tcp_v4_connect")
int BPF_PROG(health_connect_fentry, struct sock *sk)
{
	health_connect_start(sk);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* health.h: shared by health.bpf.c and userspace/health/ (loader, reader, event log).
 *
 * TCP health of every version slot: handshake latency of accepted connections, upstream
 * connect latency, connection lifetime, smoothed RTT (log2 histograms), resets and
 * retransmits (counters), and spikes (ring-buffer events). All state is in maps pinned under
 * <bpffs_root>/health-v3/ (kHealthPinDir), keyed by version slot, so every running version reads the same picture.
 *
 * Fixed-width types only, no pointers, explicit padding: the C++ side includes
 * <linux/types.h> first and static_asserts the layout.
 */
#ifndef HOTGATE_BPF_HEALTH_H
#define HOTGATE_BPF_HEALTH_H

#define HEALTH_SLOTS 4         /* version slots, as STEER_SLOTS */
#define HEALTH_MAX_INDEX 32    /* listeners, and upstream endpoints, per gateway config */
#define HEALTH_BUCKETS 32      /* log2 buckets: bucket k counts values <= 2^k us */
#define HEALTH_LOG_SIZE 1024   /* events kept in the pinned event log (a ring) */
#define HEALTH_VERSION_LEN 64
#define HEALTH_REASON_LEN 256

/* Which end of a connection the gateway is. */
enum health_side {
	HEALTH_SIDE_LISTENER = 0, /* accepted from a client on one of our listeners */
	HEALTH_SIDE_UPSTREAM = 1, /* opened by the gateway to an upstream endpoint */
	HEALTH_SIDES,
};

/* Histogram kinds; a row of health_hist_map is (kind, slot, index). */
enum health_hist_kind {
	HEALTH_H_HANDSHAKE = 0, /* first SYN-ACK sent -> ESTABLISHED, listener side */
	HEALTH_H_CONNECT,       /* SYN_SENT (or tcp_v4_connect) -> ESTABLISHED, upstream side */
	HEALTH_H_LIFETIME,      /* ESTABLISHED -> CLOSE, listener side */
	HEALTH_H_SRTT_LISTENER, /* smoothed RTT samples, listener side */
	HEALTH_H_SRTT_UPSTREAM, /* smoothed RTT samples, upstream side */
	HEALTH_H_KINDS,
};
#define HEALTH_HIST_ROWS (HEALTH_H_KINDS * HEALTH_SLOTS * HEALTH_MAX_INDEX)

struct health_hist {
	__u64 buckets[HEALTH_BUCKETS];
	__u64 sum_us;
};

/* Per-(slot, side) counters: row slot * HEALTH_SIDES + side of health_ctr_map. */
enum health_counter {
	HEALTH_CTR_OPENED = 0,     /* connections that reached ESTABLISHED */
	HEALTH_CTR_CLOSED,         /* of those, closed since */
	HEALTH_CTR_RESETS_SENT,
	HEALTH_CTR_RESETS_RECEIVED,
	HEALTH_CTR_RETRANSMITS,
	HEALTH_CTR_MAX,
};
/* The row after the per-slot rows holds global counters, indexed by enum health_event_kind
 * (events emitted) and HEALTH_GLOBAL_DROPPED (events lost: ring buffer full). */
#define HEALTH_CTR_ROW_GLOBAL (HEALTH_SLOTS * HEALTH_SIDES)
#define HEALTH_CTR_ROWS (HEALTH_CTR_ROW_GLOBAL + 1)
#define HEALTH_GLOBAL_DROPPED 15

struct health_counters {
	__u64 count[16]; /* >= HEALTH_CTR_MAX and >= HEALTH_EV_MAX + 1 */
};

enum health_event_kind {
	HEALTH_EV_HANDSHAKE = 0,
	HEALTH_EV_CONNECT,
	HEALTH_EV_SRTT,
	HEALTH_EV_RESET_SENT,
	HEALTH_EV_RESET_RECEIVED,
	HEALTH_EV_RETRANSMIT,
	HEALTH_EV_CUTOVER, /* written by userspace (whoever writes the steering control entry) */
	HEALTH_EV_MAX,
};

/* One ring-buffer event, and the body of one event-log entry. Addresses are in network
 * order (IPv4 in the first 4 bytes), ports in host order. */
struct health_event {
	__u64 time_ns;      /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 time_ms;      /* unix ms: filled by the reader when it appends to the log */
	__u64 value_us;     /* the sample (latency kinds); 0 for resets and retransmits */
	__u64 threshold_us; /* the threshold it exceeded (latency kinds) */
	__u32 kind;         /* enum health_event_kind */
	__u32 slot;
	__u32 side;         /* enum health_side */
	__u32 from_slot;    /* cutover only */
	__u16 family;       /* AF_INET or AF_INET6 */
	__u16 sport;
	__u16 dport;
	__u16 pad;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* The version mark of a listening socket: its receive timeout (SO_RCVTIMEO) is set to
 * health_meta.mark_seconds + slot * HEALTH_MAX_INDEX + listener index seconds, where
 * mark_seconds = HEALTH_MARK_SECONDS + a random id * HEALTH_MARK_CODES drawn when the programs
 * are loaded: so gateways with separate pins (another bpffs root) never count each other's
 * connections, though the mark itself is visible to every program on the host. The kernel copies a
 * listener's receive timeout into every connection it accepts, so each accepted connection
 * carries the slot of the version that accepted it (all versions share one port, so its
 * 4-tuple alone could not say), at no cost per connection: the alternative, an sk_storage
 * entry on the listener cloned into every child (BPF_F_CLONE), costs an allocation, a memory
 * charge and an RCU free per connection (tools/bench/results/health-sittings.md).
 * The timeout itself is inert: the gateway's sockets are non-blocking, and a blocking read
 * would wait 34 years. The programs decode it from sk_rcvtimeo (jiffies) with the kernel's
 * HZ, which the loader measures and sets before load. */
#define HEALTH_MARK_SECONDS (1ULL << 30)
#define HEALTH_MARK_CODES (HEALTH_SLOTS * HEALTH_MAX_INDEX)
#define HEALTH_MARK_ID_BITS 20 /* 2^20 ids x 128 codes: marks stay below 2^31 s */

/* sk_storage value (health_sk_map): the state of an upstream connection, created at SYN_SENT
 * (upstream connections are pooled: an allocation each is rare). */
struct health_sk {
	__u32 slot;
	__u16 side;
	__u16 index;
	__u64 start_ns;    /* SYN_SENT (or tcp_v4_connect) */
	__u64 est_ns;      /* ESTABLISHED; 0 before, and again after CLOSE */
	__u64 last_rtt_ns; /* last RTT sample (tp_btf and fentry samplers' rate limit) */
};

/* health_conns_map value, keyed by the kernel socket address: each upstream connection, for the
 * kprobe variant only (kprobes cannot read sk_storage). */
struct health_conn {
	__u32 slot;
	__u16 side;
	__u16 index;
	__u64 last_rtt_ns; /* last RTT sample: the kprobe sampler's per-connection rate limit */
};

/* health_endpoints_map key: an upstream endpoint the gateway connects to. */
struct health_endpoint {
	__u8 addr[16];
	__u16 family;
	__u16 port; /* host order */
	__u32 pad;
};

/* health_ports_map (BPF_F_MMAPABLE), one bitmap of ports per side: bit port % 64 of word
 * side * HEALTH_PORT_WORDS + port / 64 is set when some gateway marked a listener on that local
 * port (HEALTH_SIDE_LISTENER) or registered an upstream endpoint on that remote port
 * (HEALTH_SIDE_UPSTREAM). Gateways set bits with an atomic or on the shared mapping and never
 * clear them. The programs test it before anything costlier: most sockets on a host (clients,
 * neighbours, and here the peers of the gateway's own connections) are on neither kind of port,
 * and the test is one inlined array read plus the port, from the socket's first cache line,
 * which the kernel has just used (the mark and the storage pointer are in lines the packet path
 * may not otherwise touch). The listener side applies to established sockets only (see
 * health_marked_established). */
#define HEALTH_PORT_WORDS (65536 / 64)

/* health_synack_map key: a half-open connection whose SYN-ACK was retransmitted. */
struct health_tuple {
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 family;
	__u16 lport; /* host order */
	__u16 rport; /* host order */
	__u16 pad;
};

/* Per-slot identity and HTTP counters: health_slots_map (BPF_F_MMAPABLE), written by the
 * gateway process that owns the slot with relaxed atomic adds on the shared mapping. */
struct health_slot {
	char version[HEALTH_VERSION_LEN];
	__u32 pid;
	__u32 registered;   /* 1 once a process registered the slot since load */
	__u64 requests;
	__u64 responses_5xx;
	__u64 rejected;
	__u64 registered_ms; /* unix ms of the last registration */
};

/* Program variants; the loader picks the best one the kernel runs (see health.bpf.c). */
enum health_mode {
	HEALTH_MODE_TRACEPOINT = 0,
	HEALTH_MODE_KPROBE,
	HEALTH_MODE_FENTRY,
};

/* health_meta_map[0] (BPF_F_MMAPABLE): shared state of the userspace readers. */
struct health_meta {
	__u64 log_head;     /* next event-log sequence number, claimed with fetch_add */
	__u64 load_ms;      /* unix ms when the programs were loaded */
	__u32 reader_pid;   /* the process draining the ring buffer (claimed with CAS) */
	__u32 mode;         /* enum health_mode chosen at load */
	__u64 mark_seconds; /* this set of pins' version-mark base (see HEALTH_MARK_SECONDS) */
	char reason[HEALTH_REASON_LEN]; /* why better modes were refused */
};

/* health_log_map[i] (BPF_F_MMAPABLE): event seq lives at index seq % HEALTH_LOG_SIZE.
 * `committed` is seq + 1 once the entry is fully written (0: never written). */
struct health_log_entry {
	__u64 committed;
	struct health_event ev;
};

#endif /* HOTGATE_BPF_HEALTH_H */

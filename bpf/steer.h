/* steer.h: shared by steer.bpf.c and userspace/dataplane/steer_loader.cpp.
 *
 * One listener group (every SO_REUSEPORT socket of one listener, across versions) has one
 * reuseport sockarray laid out as version slots: slot s owns indexes
 * [s * STEER_MAX_SOCKS, (s + 1) * STEER_MAX_SOCKS). Which slot takes new connections is
 * the control entry, one aligned 8-byte value; cutover is one bpf_map_update_elem() of it.
 *
 * Fixed-width types only, no pointers, explicit padding: the C++ side includes
 * <linux/types.h> first and static_asserts the layout.
 */
#ifndef HOTGATE_BPF_STEER_H
#define HOTGATE_BPF_STEER_H

#define STEER_SLOTS 4       /* version slots per listener group */
#define STEER_MAX_SOCKS 64  /* sockets (workers) per slot */
#define STEER_SOCKARRAY_SIZE (STEER_SLOTS * STEER_MAX_SOCKS)
#define STEER_WEIGHT_MAX 10000 /* canary weight is in basis points */

/* Value of steer_ctl_map[0]. Written by cutover/canary (userspace) in one update, read by
 * steer_select on every new connection. Aligned to 8 so the update is one 8-byte store. */
struct steer_control {
	__u8 active_slot;        /* slot for new connections and for migrated requests */
	__u8 canary_slot;        /* slot for canary_weight_bp of flows; ignored when weight is 0 */
	__u16 canary_weight_bp;  /* 0..STEER_WEIGHT_MAX */
	__u32 generation;        /* bumped on every write, so readers can tell writes apart */
} __attribute__((aligned(8)));

/* Value of steer_slot_map[slot]. Written by the loader of the version owning the slot. */
struct steer_slot {
	__u32 socket_count;  /* sockets registered at [slot * STEER_MAX_SOCKS, + socket_count) */
	__u32 owner_pid;     /* process that registered them; 0 when the slot was never used */
};

/* Per-slot counters: steer_stats_map is a per-CPU array with one row per slot plus
 * STEER_STATS_ROW_INVALID, where fallbacks for an active/canary slot >= STEER_SLOTS land. */
#define STEER_STATS_ROW_INVALID STEER_SLOTS
#define STEER_STATS_ROWS (STEER_SLOTS + 1)

enum steer_counter {
	STEER_CTR_SELECTED = 0,  /* new connection put on a socket of this slot */
	STEER_CTR_MIGRATED,      /* request of a closing listener moved to this slot */
	STEER_CTR_CANARY,        /* of SELECTED, chosen by the canary weight */
	STEER_CTR_FALLBACK,      /* slot was meant but empty or invalid: kernel's own pick */
	STEER_CTR_NOT_SYN,       /* a segment other than a SYN reached the listeners (a late
				  * RST or ACK after its socket closed, a syncookie ACK): steered
				  * like a SYN but kept out of the counters above, which count
				  * connections */
	STEER_CTR_MAX,
};

struct steer_stats {
	__u64 count[STEER_CTR_MAX];
};

#endif /* HOTGATE_BPF_STEER_H */

/* front.h: shared by front.bpf.c and userspace/dataplane/front_loader.cpp.
 *
 * The XDP front of the listener interfaces: per-destination-port counters of packets and
 * SYNs, and a longest-prefix-match deny list of source prefixes dropped before the stack.
 * IPv4 and IPv6 share one trie: an IPv4 address is stored IPv4-mapped (::ffff:a.b.c.d), so
 * an IPv4 /N prefix has prefixlen 96 + N.
 *
 * Fixed-width types only, no pointers, explicit padding: the C++ side includes
 * <linux/types.h> first and static_asserts the layout.
 */
#ifndef HOTGATE_BPF_FRONT_H
#define HOTGATE_BPF_FRONT_H

#define FRONT_PORTS_MAX 4096   /* (protocol, port) rows kept; least recently used evicted */
#define FRONT_DENY_MAX 16384   /* deny-list prefixes */
#define FRONT_V4_MAPPED_PREFIXLEN 96

/* Key of front_deny_map; the layout the kernel's LPM trie wants (prefixlen first). */
struct front_deny_key {
	__u32 prefixlen; /* 0..128, IPv4 prefixes as 96 + N */
	__u8 addr[16];   /* network byte order, IPv4 as ::ffff:a.b.c.d */
};

/* Value of front_deny_map. */
struct front_deny_value {
	__u64 hits; /* packets dropped by this prefix */
};

/* Key of front_port_map. */
struct front_port_key {
	__u16 port;  /* destination port, host byte order */
	__u8 proto;  /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};

/* Value of front_port_map (per CPU). */
struct front_port_stats {
	__u64 packets; /* every packet to this port that reached the program */
	__u64 syns;    /* TCP SYN without ACK: new connection attempts */
	__u64 denied;  /* of packets, dropped by the deny list */
};

#endif /* HOTGATE_BPF_FRONT_H */

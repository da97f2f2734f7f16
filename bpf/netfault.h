/* netfault.h: shared by netfault.bpf.c and tests/bpf/health_test.cpp.
 *
 * TEST ONLY. Deterministic packet loss for the health tests on kernels without netem: an XDP
 * program, attached only to a veth inside a network namespace the test created, drops the
 * first `drops_left` IPv4 TCP segments matching the rule. The kernel's own timers then
 * retransmit (initial RTO 1 s), which gives latency spikes and retransmits of known size.
 */
#ifndef HOTGATE_BPF_NETFAULT_H
#define HOTGATE_BPF_NETFAULT_H

#define NETFAULT_PAYLOAD_ANY 0
#define NETFAULT_PAYLOAD_NONE 1  /* only segments without payload (a bare ACK, a SYN-ACK) */
#define NETFAULT_PAYLOAD_SOME 2  /* only segments carrying data */

/* netfault_rule_map[0]. Written by the test; drops_left and dropped by the program. */
struct netfault_rule {
	__u16 sport;       /* host order; 0 matches any */
	__u16 dport;       /* host order; 0 matches any */
	__u8 flags_mask;   /* TCP flags byte & mask must equal flags_value */
	__u8 flags_value;
	__u8 payload;      /* NETFAULT_PAYLOAD_* */
	__u8 pad;
	__u32 drops_left;  /* decremented per drop; 0: pass everything */
	__u32 dropped;
};

#endif /* HOTGATE_BPF_NETFAULT_H */

// libbpf's own messages, routed into hotgate's log at debug level. libbpf prints to stderr by
// default, and probing the kernel for the best health variant makes it print "failed to load"
// and "try raising 'ulimit -l'" on every start where fentry or kprobes are refused: alarming and
// misleading (the loaders report the outcome themselves, with the reason, at info/warn).
#pragma once

namespace hotgate::log {

// Call once at process start, before any BPF object is opened.
void routeLibbpfMessages();

}  // namespace hotgate::log

// stop_at_first_listen.so: an LD_PRELOAD library for chaos tests. The process stops itself
// (SIGSTOP stops every thread) in its first listen(), before that socket listens, and goes on
// when it is sent SIGCONT. A hotgate successor's first listen() comes after the old version's
// handover and before it says ready (its listeners in BPF mode, its admin socket in takeover
// mode, where it holds the inherited sockets without accepting), so a test freezes it there
// without racing its start.
#include <dlfcn.h>
#include <sys/socket.h>

#include <atomic>
#include <csignal>

extern "C" int listen(int fd, int backlog) {
    static std::atomic_flag stopped = ATOMIC_FLAG_INIT;
    static const auto real_listen = reinterpret_cast<int (*)(int, int)>(::dlsym(RTLD_NEXT, "listen"));
    if (!stopped.test_and_set()) std::raise(SIGSTOP);
    return real_listen(fd, backlog);
}

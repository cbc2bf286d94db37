// The listening sockets of couriertcpd: created from the port list while still root
// (ports below 1024), close-on-exec so no service inherits them, non-blocking so a
// connection that vanishes between poll() and accept() never stalls the server.
#pragma once
#include <string>
#include <vector>
#include "lib/result.h"
#include "lib/unique_fd.h"
#include "tcpd/port_list.h"

struct Listener {
    UniqueFd fd;
    BindTarget target;
};

class ListenerSet {
public:
    // Binds every target in order, applying the wildcard rules of BindTarget::Role.
    // backlog 0 means the system maximum (SOMAXCONN).
    static Result<ListenerSet> bind_all(const std::vector<BindTarget>& targets, int backlog);
    const std::vector<Listener>& listeners() const { return listeners_; }
    void close_all() { listeners_.clear(); }

private:
    std::vector<Listener> listeners_;
};

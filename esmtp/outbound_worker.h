// courieresmtp's processes: the dispatcher (the module courierd talks to) and its
// forked delivery workers, one per SMTP connection, bound to one domain and reused
// for further messages to it. The dispatcher keeps esmtpdelay, the per-domain session
// limit and the STARTTLS penalty box; workers report to it over a pipe with the
// module protocol's result/done lines plus two of their own:
//   unreachable <id>                  no mail server of the domain could be contacted
//   notls <xtext address> <until>     STARTTLS failed with that server
#pragma once
#include <ctime>
#include <map>
#include <string>
#include <string_view>
#include "config/config.h"

namespace outbound {

// esmtpdelay bookkeeping (courier(8), "esmtpdelay"): after a delivery found no
// reachable mail server, further mail to that domain is postponed until it expires;
// all of it is forgotten after a minute without any request, as when Courier's idle
// courieresmtp processes exit.
class DelayTable {
public:
    void set(const std::string& domain, std::time_t now, long delay) {
        if (delay > 0) until_[domain] = now + delay;
    }
    bool postponed(const std::string& domain, std::time_t now) const {
        auto it = until_.find(domain);
        return it != until_.end() && it->second > now;
    }
    void activity(std::time_t now) {
        if (now - last_activity_ >= 60) until_.clear();
        last_activity_ = now;
    }
private:
    std::map<std::string, std::time_t> until_;
    std::time_t last_activity_ = 0;
};

// The dispatcher's main loop: reads requests on stdin, answers on stdout.
int run_dispatcher(const ConfigDir& cfg);

}  // namespace outbound

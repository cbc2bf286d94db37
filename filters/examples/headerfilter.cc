// headerfilter: a small global filter written with libcourierfilter (filter_client.h),
// used by the tests and as an example. By the message's Subject: "[discard]" discards
// it, "[hold]" holds it in the queue; every message it passes gets "X-Header-Filter:".
#include <string>
#include "filters/filter_client.h"

namespace {

// The Subject: line of the message (not unfolded: enough for this example).
std::string subject_of(const std::string& message) {
    size_t pos = 0;
    while (pos < message.size() && message[pos] != '\n') {
        size_t nl = message.find('\n', pos);
        std::string line = message.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        if (line.size() > 8 && (line.compare(0, 8, "Subject:") == 0 || line.compare(0, 8, "subject:") == 0))
            return line.substr(8);
        if (nl == std::string::npos) break;
        pos = nl + 1;
    }
    return "";
}

courierfilter::Verdict judge(const courierfilter::FilterMessage& m) {
    auto text = m.read_message();
    if (!text) return courierfilter::Verdict::tempfail("4.3.0 Cannot read the message");
    std::string subject = subject_of(*text);
    if (subject.find("[discard]") != std::string::npos)
        return courierfilter::Verdict::discard("subject says so", "2.0.0 Ok, thank you");
    auto v = subject.find("[hold]") != std::string::npos ? courierfilter::Verdict::hold("subject says so")
                                                         : courierfilter::Verdict::accept();
    v.with_header("X-Header-Filter: " + std::to_string(m.envelope.rcpts.size()) + " rcpt from <" +
                  m.envelope.sender + ">");
    return v;
}

}  // namespace

int main(int argc, char** argv) { return courierfilter::run_filter(argc, argv, judge); }

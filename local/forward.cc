// Forwarding through submit on behalf of a delivery child (see forward.h).
#include "local/forward.h"

#include <unistd.h>
#include <cerrno>
#include <vector>
#include "lib/fileio.h"
#include "lib/lineio.h"
#include "lib/xtext.h"
#include "local/delivery.h"

namespace local {

namespace {

constexpr size_t kMaxLine = 256 * 1024;
constexpr size_t kChunk = 64 * 1024;

// Reads one LF-terminated line (without the LF); false at EOF or error.
bool read_line(int fd, std::string* line) {
    line->clear();
    char c;
    while (true) {
        ssize_t n = ::read(fd, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        if (c == '\n') return true;
        if (line->size() >= kMaxLine) return false;
        *line += c;
    }
}

SubmitReply parse_reply(const std::string& line) {
    SubmitReply r;
    size_t sp = line.find(' ');
    r.code = std::atoi(line.substr(0, sp).c_str());
    r.text = sp == std::string::npos ? "" : line.substr(sp + 1);
    if (r.code < 200 || r.code > 599) return {451, "4.3.0 forwarding: malformed reply"};
    return r;
}

SubmitReply forward_one(int queue_fd, const DeliveryRequest& req, size_t index,
                        const std::vector<std::string>& addresses) {
    size_t data_offset = 0;
    auto env = read_envelope_from_fd(queue_fd, &data_offset);
    if (!env) return {451, "4.3.0 forwarding: " + env.error().text};
    const std::string* rcpt = nullptr;
    for (const auto& r : req.rcpts)
        if (r.index == index) rcpt = &r.address;
    if (!rcpt || addresses.empty()) return {451, "4.3.0 forwarding: bad request"};
    SubmitClient submit("forward");
    std::string params;
    if (env->body == "8BITMIME") params += "BODY=8BITMIME";
    if (env->smtputf8) params += std::string(params.empty() ? "" : " ") + "SMTPUTF8=1";
    SubmitReply r = submit.mail(env->sender, params);
    if (!r.positive()) return r;
    for (const auto& a : addresses) {
        r = submit.rcpt(a, "");
        if (!r.positive()) {
            r.text += " (forwarding to <" + a + ">)";
            return r;
        }
    }
    std::string dt = "Delivered-To: ";
    for (char c : *rcpt) dt += (static_cast<unsigned char>(c) < 0x20 ? '?' : c);
    dt += "\n";
    if (!submit.send_data(dt)) return submit.finish();
    std::vector<char> buf(kChunk);
    uint64_t done = 0;
    while (done < env->data_size) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), env->data_size - done));
        ssize_t n = ::pread(queue_fd, buf.data(), want, static_cast<off_t>(data_offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            submit.reset();
            return {451, "4.3.0 forwarding: cannot read the queue file"};
        }
        if (!submit.send_data(std::string_view(buf.data(), static_cast<size_t>(n)))) break;
        done += static_cast<uint64_t>(n);
    }
    r = submit.finish();
    submit.quit();
    return r;
}

}  // namespace

SubmitReply request_forward(int sock, size_t index, const std::vector<std::string>& addresses) {
    if (sock < 0) return {451, "4.3.0 forwarding is not available"};
    std::string line = "forward " + std::to_string(index);
    for (const auto& a : addresses) line += " " + xtext_encode(a);
    line += "\n";
    if (!write_all(sock, line)) return {451, "4.3.0 forwarding process is gone"};
    std::string reply;
    if (!read_line(sock, &reply)) return {451, "4.3.0 forwarding process is gone"};
    return parse_reply(reply);
}

int serve_forwards(int sock, int queue_fd, const DeliveryRequest& req) {
    std::string line;
    while (read_line(sock, &line)) {
        auto fields = split_record_fields(line);
        SubmitReply r{451, "4.3.0 forwarding: bad request"};
        size_t index = 0;
        if (fields.size() >= 3 && fields[0] == "forward" && parse_decimal(fields[1], index)) {
            std::vector<std::string> addresses;
            bool ok = true;
            for (size_t i = 2; i < fields.size(); ++i) {
                auto a = xtext_decode(fields[i]);
                if (!a) ok = false;
                else addresses.push_back(*a);
            }
            if (ok) r = forward_one(queue_fd, req, index, addresses);
        }
        std::string out = std::to_string(r.code) + " " + r.text;
        for (char& c : out)
            if (c == '\n' || c == '\r') c = ' ';
        if (!write_all(sock, out + "\n")) break;
    }
    return 0;
}

}  // namespace local

// The SMTP client side of courieresmtp: see outbound_smtp.h.
#include "esmtp/outbound_smtp.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <sys/socket.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include "lib/address.h"
#include "lib/fileio.h"
#include "lib/process.h"
#include "lib/xtext.h"

namespace outbound {

namespace {
constexpr size_t kMaxReplyLine = 4096;
constexpr size_t kMaxReplyLines = 200;

std::string upper(std::string_view s) {
    std::string o(s);
    for (auto& c : o) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return o;
}

int ms(long s) { return s <= 0 ? 1 : static_cast<int>(std::min<long>(s, 86400) * 1000); }
}  // namespace

std::string Reply::text() const {
    std::string out = std::to_string(code);
    for (size_t i = 0; i < lines.size(); ++i) out += (i ? "; " : " ") + lines[i];
    return out;
}

bool ReplyParser::feed(std::string_view line, bool* bad) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() < 3 || !std::all_of(line.begin(), line.begin() + 3, [](char c) { return c >= '0' && c <= '9'; }) ||
        (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
        *bad = true;
        return true;
    }
    int code = std::stoi(std::string(line.substr(0, 3)));
    if (cur_.code != 0 && code != cur_.code) {
        *bad = true;
        return true;
    }
    cur_.code = code;
    if (cur_.lines.size() < kMaxReplyLines) cur_.lines.emplace_back(line.size() > 4 ? line.substr(4) : "");
    return line.size() == 3 || line[3] == ' ';
}

Reply ReplyParser::take() {
    Reply r = std::move(cur_);
    cur_ = Reply();
    return r;
}

DeliveryStatus accepted_status(const Capabilities& peer) {
    return peer.dsn ? DeliveryStatus::ok : DeliveryStatus::relayed;
}

Capabilities parse_ehlo(const Reply& r) {
    Capabilities c;
    c.esmtp = r.code == 250;
    for (size_t i = 1; i < r.lines.size(); ++i) {
        std::string l = upper(r.lines[i]);
        std::string kw = l.substr(0, l.find(' '));
        std::string arg = l.size() > kw.size() ? l.substr(kw.size() + 1) : "";
        if (kw == "PIPELINING") c.pipelining = true;
        else if (kw == "STARTTLS") c.starttls = true;
        else if (kw == "8BITMIME") c.eightbitmime = true;
        else if (kw == "DSN") c.dsn = true;
        else if (kw == "SMTPUTF8") c.smtputf8 = true;
        else if (kw == "CHUNKING") c.chunking = true;
        else if (kw == "REQUIRETLS") c.requiretls = true;
        else if (kw == "SIZE") {
            c.size_ext = true;
            if (!arg.empty() && arg.size() < 19 && std::all_of(arg.begin(), arg.end(), ::isdigit)) c.size = std::stoull(arg);
        } else if (kw == "AUTH" || kw == "AUTH=") {
            size_t p = 0;
            while (p < arg.size()) {
                size_t e = arg.find(' ', p);
                if (e == std::string::npos) e = arg.size();
                if (e > p) c.auth.push_back(arg.substr(p, e - p));
                p = e + 1;
            }
        }
    }
    return c;
}

std::string encode_crlf(std::string_view m) {
    std::string out;
    out.reserve(m.size() + m.size() / 32 + 2);
    for (size_t i = 0; i < m.size(); ++i) {
        if (m[i] == '\n' && (i == 0 || m[i - 1] != '\r')) out += '\r';
        out += m[i];
    }
    if (!out.empty() && out.back() != '\n') out += "\r\n";
    return out;
}

std::string encode_for_data(std::string_view m) {
    std::string crlf = encode_crlf(m);
    std::string out;
    out.reserve(crlf.size() + 64);
    bool line_start = true;
    for (char c : crlf) {
        if (line_start && c == '.') out += '.';   // RFC 5321 4.5.2
        out += c;
        line_start = c == '\n';
    }
    return out + ".\r\n";
}

bool has_8bit(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) > 127; });
}

std::string mail_command(const QueueEnvelope& env, const Capabilities& caps, uint64_t size, bool body8) {
    std::string cmd = "MAIL FROM:<" + env.sender + ">";
    if (caps.size_ext) cmd += " SIZE=" + std::to_string(size);
    if (body8 && caps.eightbitmime) cmd += " BODY=8BITMIME";
    if (env.smtputf8 && caps.smtputf8) cmd += " SMTPUTF8";
    if (env.requiretls && caps.requiretls) cmd += " REQUIRETLS";   // RFC 8689 4.2.1
    if (caps.dsn) {
        if (!env.ret.empty()) cmd += " RET=" + env.ret;
        if (!env.envid.empty()) cmd += " ENVID=" + xtext_encode(env.envid);
    }
    return cmd + "\r\n";
}

std::string rcpt_command(const std::string& address, const QueueRecipient* rcpt, const Capabilities& caps) {
    std::string cmd = "RCPT TO:<" + address + ">";
    if (caps.dsn && rcpt) {
        if (!rcpt->notify.empty()) cmd += " NOTIFY=" + rcpt->notify;
        if (!rcpt->orcpt.empty()) {
            // The queue keeps "type;address" (RFC 3461 4.2); the address part is xtext.
            size_t semi = rcpt->orcpt.find(';');
            if (semi != std::string::npos)
                cmd += " ORCPT=" + rcpt->orcpt.substr(0, semi + 1) + xtext_encode(rcpt->orcpt.substr(semi + 1));
            else
                cmd += " ORCPT=rfc822;" + xtext_encode(rcpt->orcpt);
        }
    }
    return cmd + "\r\n";
}

std::optional<AuthEntry> find_auth_entry(const std::vector<std::string>& lines, const std::vector<std::string>& names) {
    for (const auto& name : names) {
        if (name.empty()) continue;
        for (const auto& line : lines) {
            std::vector<std::string> f;
            size_t p = 0;
            while (p < line.size() && f.size() < 3) {
                while (p < line.size() && (line[p] == ' ' || line[p] == '\t')) ++p;
                size_t e = p;
                if (f.size() == 2) e = line.size();   // the password may hold spaces
                else while (e < line.size() && line[e] != ' ' && line[e] != '\t') ++e;
                if (e > p) f.push_back(line.substr(p, e - p));
                p = e;
            }
            if (f.size() == 3 && lowercase_ascii(f[0]) == lowercase_ascii(name)) {
                while (!f[2].empty() && (f[2].back() == ' ' || f[2].back() == '\r')) f[2].pop_back();
                return AuthEntry{f[0], f[1], f[2]};
            }
        }
    }
    return std::nullopt;
}

std::string choose_auth_mechanism(const std::vector<std::string>& offered) {
    for (const char* m : {"CRAM-MD5", "PLAIN", "LOGIN"}) {
        if (std::find(offered.begin(), offered.end(), m) != offered.end()) return m;
    }
    return "";
}

std::string base64_encode(std::string_view in) {
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
    std::string s(in);
    while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.pop_back();
    if (s.size() % 4 != 0) return std::nullopt;
    std::string out(s.size() / 4 * 3 + 1, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
    if (n < 0) return std::nullopt;
    size_t len = static_cast<size_t>(n);
    if (!s.empty() && s.back() == '=') --len;                       // EVP counts padding
    if (s.size() > 1 && s[s.size() - 2] == '=') --len;
    out.resize(len);
    return out;
}

std::string cram_md5_response(std::string_view user, std::string_view password, std::string_view challenge) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_md5(), password.data(), static_cast<int>(password.size()),
         reinterpret_cast<const unsigned char*>(challenge.data()), challenge.size(), mac, &len);
    static const char hex[] = "0123456789abcdef";
    std::string digest;
    for (unsigned i = 0; i < len; ++i) {
        digest += hex[mac[i] >> 4];
        digest += hex[mac[i] & 15];
    }
    return base64_encode(std::string(user) + " " + digest);
}

// --- Connection ---

Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

Result<UniqueFd> connect_tcp(const std::string& address, unsigned port, const std::string& source,
                             long timeout_s) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family = AF_INET;
    if (inet_pton(AF_INET, address.c_str(), &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr) == 1) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(static_cast<uint16_t>(port));
        len = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, address.c_str(), &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr) == 1) {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(static_cast<uint16_t>(port));
        family = AF_INET6;
        len = sizeof(sockaddr_in6);
    } else {
        return Error{0, "bad address " + address};
    }
    UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return sys_error("socket");
    if (!source.empty()) {
        sockaddr_storage src{};
        socklen_t slen = 0;
        if (family == AF_INET && inet_pton(AF_INET, source.c_str(), &reinterpret_cast<sockaddr_in*>(&src)->sin_addr) == 1) {
            reinterpret_cast<sockaddr_in*>(&src)->sin_family = AF_INET;
            slen = sizeof(sockaddr_in);
        } else if (family == AF_INET6 &&
                   inet_pton(AF_INET6, source.c_str(), &reinterpret_cast<sockaddr_in6*>(&src)->sin6_addr) == 1) {
            reinterpret_cast<sockaddr_in6*>(&src)->sin6_family = AF_INET6;
            slen = sizeof(sockaddr_in6);
        } else {
            return Error{0, "bad source address " + source};
        }
        if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&src), slen) != 0) return sys_error("bind to " + source);
    }
    set_nonblock(fd.get(), true);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        if (errno != EINPROGRESS) return sys_error("connect to " + address);
        pollfd p{fd.get(), POLLOUT, 0};
        int r;
        do r = ::poll(&p, 1, ms(timeout_s)); while (r < 0 && errno == EINTR);
        if (r == 0) return Error{ETIMEDOUT, "connect to " + address + ": timed out"};
        int err = 0;
        socklen_t elen = sizeof err;
        getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &elen);
        if (err != 0) {
            errno = err;
            return sys_error("connect to " + address);
        }
    }
    set_nonblock(fd.get(), false);
    return fd;
}

Result<Connection> Connection::open(const std::string& address, unsigned port, const std::string& source,
                                    long timeout_s) {
    auto fd = connect_tcp(address, port, source, timeout_s);
    if (!fd) return fd.error();
    Connection c;
    c.fd_ = std::move(*fd);
    c.reader_ = std::make_unique<LineReader>(c.fd_.get(), kMaxReplyLine);
    return c;
}

Status Connection::send(std::string_view data, long timeout_s) {
    if (tls_) {
        if (!tls_->write_all(data, ms(timeout_s))) return Error{0, "TLS write failed: " + tls_->last_error()};
        return ok_status();
    }
    size_t off = 0;
    while (off < data.size()) {
        pollfd p{fd_.get(), POLLOUT, 0};
        int r;
        do r = ::poll(&p, 1, ms(timeout_s)); while (r < 0 && errno == EINTR);
        if (r == 0) return Error{ETIMEDOUT, "write timed out"};
        ssize_t n = ::send(fd_.get(), data.data() + off, std::min<size_t>(data.size() - off, 65536),
                           MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return sys_error("write");
        }
        off += static_cast<size_t>(n);
    }
    return ok_status();
}

Reply Connection::read_reply(long timeout_s) {
    ReplyParser parser;
    std::string line;
    if (tls_) tls_->set_read_timeout(ms(timeout_s));
    for (;;) {
        auto s = reader_->read_line(line, ms(timeout_s));
        if (s != LineReader::Status::line) {
            error_ = s == LineReader::Status::timeout ? "timed out waiting for a reply" : "connection lost";
            return Reply();
        }
        bool bad = false;
        if (parser.feed(line, &bad)) {
            if (bad) {
                error_ = "malformed reply";
                return Reply();
            }
            return parser.take();
        }
    }
}

Status Connection::start_tls(const TlsContext& ctx, const std::string& sni, long timeout_s, const TlsDane* dane) {
    // Anything the server sent ahead of the handshake would be plaintext injected
    // into the TLS session (CVE-2011-0411 in reverse): refuse it.
    if (reader_->has_buffered()) return Error{0, "plaintext after STARTTLS reply"};
    auto t = TlsConnection::connect(ctx, fd_.get(), sni, ms(timeout_s), dane);
    if (!t) return t.error();
    tls_ = std::make_unique<TlsConnection>(std::move(*t));
    reader_ = std::make_unique<LineReader>(fd_.get(), kMaxReplyLine);
    reader_->set_reader(&TlsConnection::line_reader_fn, tls_.get());
    return ok_status();
}

std::string Connection::local_address() const {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
    char buf[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET) inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
    else if (ss.ss_family == AF_INET6) inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
    return buf;
}

void Connection::close(long quit_timeout_s) {
    if (!fd_) return;
    if (send("QUIT\r\n", quit_timeout_s)) read_reply(quit_timeout_s);
    if (tls_) tls_->shutdown(100);
    tls_.reset();
    fd_.reset();
}

}  // namespace outbound

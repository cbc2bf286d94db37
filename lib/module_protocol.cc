// courierd <-> module line protocol (doc/architecture.md, "courierd and the modules").
#include "lib/module_protocol.h"
#include "lib/xtext.h"

namespace {
bool decode(std::string_view s, std::string& out) {
    auto d = xtext_decode(s);
    if (!d) return false;
    out = std::move(*d);
    return true;
}

void set(std::string* error, const char* text) {
    if (error) *error = text;
}
}  // namespace

const char* status_name(DeliveryStatus s) {
    switch (s) {
    case DeliveryStatus::ok: return "ok";
    case DeliveryStatus::defer: return "defer";
    case DeliveryStatus::fail: return "fail";
    case DeliveryStatus::relayed: return "relayed";
    }
    return "defer";
}

std::string format_request(const DeliveryRequest& r) {
    std::string out = "deliver " + std::to_string(r.id) + " " + xtext_encode(r.queue_file) + " " +
                      xtext_encode(r.qid) + " " + xtext_encode(r.sender) + " " + xtext_encode(r.host) + "\n";
    for (const auto& rc : r.rcpts)
        out += "rcpt " + std::to_string(rc.index) + " " + xtext_encode(rc.address) + "\n";
    out += "end\n";
    return out;
}

std::string format_result(const DeliveryResult& r) {
    return "result " + std::to_string(r.id) + " " + std::to_string(r.index) + " " + status_name(r.status) +
           " " + xtext_encode(r.text) + "\n";
}

std::string format_done(unsigned long id) { return "done " + std::to_string(id) + "\n"; }

std::optional<DeliveryRequest> RequestParser::feed(std::string_view line, std::string* error) {
    auto f = split_record_fields(line);
    if (f[0] == "deliver") {
        DeliveryRequest r;
        if (cur_ || f.size() != 6 || !parse_decimal(f[1], r.id) || !decode(f[2], r.queue_file) ||
            !decode(f[3], r.qid) || !decode(f[4], r.sender) || !decode(f[5], r.host)) {
            cur_.reset();
            set(error, "malformed deliver line");
            return std::nullopt;
        }
        cur_ = std::move(r);
        return std::nullopt;
    }
    if (f[0] == "rcpt") {
        DeliveryRequest::Rcpt rc;
        if (!cur_ || f.size() != 3 || !parse_decimal(f[1], rc.index) || !decode(f[2], rc.address)) {
            cur_.reset();
            set(error, "malformed rcpt line");
            return std::nullopt;
        }
        cur_->rcpts.push_back(std::move(rc));
        return std::nullopt;
    }
    if (f[0] == "end" && f.size() == 1 && cur_) {
        std::optional<DeliveryRequest> done = std::move(cur_);
        cur_.reset();
        return done;
    }
    cur_.reset();
    set(error, "unexpected line");
    return std::nullopt;
}

std::optional<ModuleReply> parse_module_reply(std::string_view line, std::string* error) {
    auto f = split_record_fields(line);
    ModuleReply r;
    if (f[0] == "result" && f.size() == 5) {
        r.kind = ModuleReply::Kind::result;
        if (!parse_decimal(f[1], r.result.id) || !parse_decimal(f[2], r.result.index) || !decode(f[4], r.result.text)) {
            set(error, "malformed result line");
            return std::nullopt;
        }
        if (f[3] == "ok") r.result.status = DeliveryStatus::ok;
        else if (f[3] == "defer") r.result.status = DeliveryStatus::defer;
        else if (f[3] == "fail") r.result.status = DeliveryStatus::fail;
        else if (f[3] == "relayed") r.result.status = DeliveryStatus::relayed;
        else {
            set(error, "unknown status in result line");
            return std::nullopt;
        }
        return r;
    }
    if (f[0] == "done" && f.size() == 2) {
        r.kind = ModuleReply::Kind::done;
        if (!parse_decimal(f[1], r.done_id)) {
            set(error, "malformed done line");
            return std::nullopt;
        }
        return r;
    }
    set(error, "unexpected line from module");
    return std::nullopt;
}

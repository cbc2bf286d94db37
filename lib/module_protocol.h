// The line protocol between courierd and a long-running delivery module (courierlocal,
// courieresmtp) over the module's stdin/stdout. Parsed and formatted only here, and
// documented line by line in doc/architecture.md, "courierd and the modules".
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// relayed: accepted by a next hop that does not support DSN (RFC 3461 5.2.2), so this
// MTA must answer NOTIFY=SUCCESS itself with a "relayed" notice. ok: delivered (the
// local module) or, from any other module, accepted by a next hop that offered DSN and
// answers NOTIFY=SUCCESS itself (courierd/settlement.h notice_is_ours).
enum class DeliveryStatus { ok, defer, fail, relayed };

// courierd -> module: one delivery of one message to one host, several recipients.
struct DeliveryRequest {
    unsigned long id = 0;                 // courierd's delivery id, echoed in results
    std::string queue_file;               // absolute path of Q<qid>
    std::string qid;
    std::string sender;                   // "" for <>
    std::string host;                     // local: account; esmtp: domain
    struct Rcpt { size_t index; std::string address; };
    std::vector<Rcpt> rcpts;
};

// module -> courierd: the outcome for one recipient of a delivery.
struct DeliveryResult {
    unsigned long id = 0;
    size_t index = 0;                     // recipient index in the queue file
    DeliveryStatus status = DeliveryStatus::defer;
    std::string text;                     // "250 2.0.0 ..." style, for logs and notices
};

// Encodes a request as its lines ("deliver ...", "rcpt ..."*, "end").
std::string format_request(const DeliveryRequest& r);
std::string format_result(const DeliveryResult& r);   // "result ..." line
std::string format_done(unsigned long id);            // "done <id>" line

// Incremental parser for the module side: feed lines, get complete requests.
class RequestParser {
public:
    // Returns a request when `line` completes one; sets *error on a malformed line.
    std::optional<DeliveryRequest> feed(std::string_view line, std::string* error);
private:
    std::optional<DeliveryRequest> cur_;
};

// Parser for courierd's side: each line is a result or a done marker.
struct ModuleReply {
    enum class Kind { result, done } kind = Kind::result;
    DeliveryResult result;                // kind == result
    unsigned long done_id = 0;            // kind == done
};
std::optional<ModuleReply> parse_module_reply(std::string_view line, std::string* error);

const char* status_name(DeliveryStatus s);   // "ok", "defer", "fail"

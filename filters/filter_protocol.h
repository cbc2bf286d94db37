// The global filter protocol of doc/filters.md, parsed and formatted in this one place:
// the request submit sends (two paths and an empty line), the envelope file, and the
// filter's answer (directives, then an SMTP-style reply). Used by submit (the client
// side) and by libcourierfilter (the filter side); pure functions, unit-tested.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "lib/result.h"

namespace courierfilter {

constexpr size_t kMaxLine = 1000;          // any protocol line, without its LF
constexpr size_t kMaxDirectives = 100;     // prepend/hold/discard lines per answer
constexpr int kEnvelopeVersion = 1;

// What submit tells a filter about the message (the envelope file).
struct Envelope {
    std::string source;       // esmtp, local, dsn, forward
    std::string sender;       // "" for the null reverse path
    uint64_t size = 0;        // bytes of the message file
    std::string remote_ip, remote_host, helo, local_ip, auth;
    std::vector<std::string> rcpts;
};
std::string format_envelope_file(const Envelope& env);
// Unknown tags are skipped; a missing or different version line is an error.
Result<Envelope> parse_envelope_file(std::string_view text);

// The request: "<message path>\n<envelope path>\n\n".
struct Request {
    std::string message_path, envelope_path;
};
std::string format_request(const Request& r);
// Incremental: the lines read so far (without LF). nullopt while incomplete, an Error
// when malformed (relative path, more than three lines, a non-empty third line).
std::optional<Result<Request>> parse_request_lines(const std::vector<std::string>& lines);

// The filter's answer.
struct Answer {
    int code = 0;                         // 200-599
    std::string text;                     // reply text, continuation lines joined by ' '
    std::vector<std::string> prepend;     // header lines to add
    bool hold = false, discard = false;
    std::string hold_reason, discard_reason;

    bool accepted() const { return code / 100 == 2; }
    bool skip_rest() const { return code == 200; }   // Courier's whitelisting
};
std::string format_answer(const Answer& a);

// Feeds the answer one line at a time (without LF; a trailing CR is removed).
class AnswerParser {
public:
    enum class State { more, done, error };
    State feed(std::string_view line);
    const Answer& answer() const { return answer_; }
    const std::string& error() const { return error_; }

private:
    State fail(std::string why);
    Answer answer_;
    std::string error_;
    size_t directives_ = 0;
    bool in_reply_ = false;
    int reply_code_ = 0;
};

// A header line a filter may prepend: "Name: value", a name of printable ASCII without
// ':' and space, no control characters anywhere.
bool valid_header_line(std::string_view line);
// The reply text the SMTP client sees: an enhanced status code is added when the text
// does not start with one ("4.7.1" / "5.7.1" / "2.0.0").
std::string client_reply_text(int code, std::string_view text);

// enablefiltering (courier(8)): the sources whose mail is filtered, separated by spaces
// or lines; '#' comments. Unknown words are errors ("file:line: ...") but do not stop
// the known ones from counting.
struct FilterSources {
    std::vector<std::string> sources;
    std::vector<std::string> errors;
    bool covers(std::string_view source) const;
};
FilterSources parse_enablefiltering(std::string_view text, const std::string& origin);

// filterfailure: what a down or slow filter means for the message.
enum class FailureMode { tempfail, accept };
// "tempfail" (also "closed") or "accept" (also "open"); nullopt when unknown.
std::optional<FailureMode> parse_failure_mode(std::string_view text);

// Filter names: what filterctl accepts and what submit looks for in filters/active.
// No '/', no leading '.', printable ASCII, at most 64 bytes.
bool valid_filter_name(std::string_view name);
// The enabled filter names in <config>/filters/active, in byte order (the order submit
// consults them); invalid names are skipped; a missing folder is an empty list.
std::vector<std::string> list_active_filters(const std::string& dir);

}  // namespace courierfilter

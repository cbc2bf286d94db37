// The message body while it arrives: chunks of the submit protocol are converted from
// CRLF to LF line ends (the queue stores LF, doc/architecture.md "Queue file") and held
// in memory up to a bound, then in an unnamed file in the spool, so a large message
// never sits in memory whole. The size limit is enforced here.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include "lib/result.h"
#include "lib/unique_fd.h"

namespace submit {

// CRLF -> LF, a CR that does not precede an LF kept as it is. Stateful, because a
// CRLF pair may be split across two chunks.
class CrlfToLf {
public:
    void convert(std::string_view in, std::string& out);   // appends to out
    void finish(std::string& out);                          // a trailing lone CR
    void reset() { pending_cr_ = false; }
private:
    bool pending_cr_ = false;
};

class MessageBuffer {
public:
    // spill_dir: where the unnamed overflow file is created (spool/tmp, same file
    // system as the queue). memory_limit: bytes kept in memory before spilling.
    // size_limit: largest message accepted, 0 for none.
    MessageBuffer(std::string spill_dir, size_t memory_limit, uint64_t size_limit);

    void reset();                               // for the next message
    void set_size_limit(uint64_t limit) { size_limit_ = limit; }   // 0: none
    Status append(std::string_view raw);        // raw chunk bytes
    Status finish();                            // end of message
    uint64_t size() const { return size_; }     // bytes after conversion
    bool too_big() const { return too_big_; }
    bool spilled() const { return spill_.valid(); }
    // The whole message when it never left memory.
    std::string_view in_memory() const { return mem_; }
    // Appends the message to fd at its current offset (after finish()).
    Status write_to(int fd);

private:
    Status store(std::string_view converted);
    Status spill(std::string_view bytes);
    Status open_spill();

    std::string spill_dir_;
    size_t memory_limit_;
    uint64_t size_limit_;
    CrlfToLf crlf_;
    std::string mem_;        // whole message, or the part not yet written to spill_
    std::string scratch_;    // conversion output of one chunk
    UniqueFd spill_;
    uint64_t size_ = 0;
    bool too_big_ = false;
};

}  // namespace submit

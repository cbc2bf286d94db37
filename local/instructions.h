// Delivery instructions of dot-courier(5): the lines of $HOME/.courier[-ext] (or of
// DEFAULTDELIVERY when there is none), which .courier file applies to an address
// extension, the exit-code classes of delivery programs, the Delivered-To loop check
// and the environment a delivery program gets. Pure rules, no I/O besides stat.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace local {

struct Instruction {
    enum class Kind { maildir, mbox, program, forward };
    Kind kind = Kind::maildir;
    std::string target;                 // path, command line, or (forward) unused
    std::vector<std::string> addresses; // forward: the addresses, in order
    std::string text;                   // the instruction as written (journal key)
};

// Parses instruction lines: '#' comments and blank lines are skipped; "/path" or
// "./path" is a mailbox (a Maildir when it ends in '/' or names an existing folder,
// else an mbox file); "|command" a program (a '\' before the line end continues it);
// anything else, optionally after '&' or '!', a comma- or blank-separated list of
// addresses to forward to. A malformed forward address sets *error.
std::vector<Instruction> parse_instructions(std::string_view text, std::string* error);

// The extension of a recipient: "ext" of "account-ext@domain", "" when the local part
// is the account itself (or anything else, e.g. an alias mapped to it).
std::string address_extension(std::string_view address, std::string_view account);

// The .courier file names to try for an extension, in order, with the value of
// $DEFAULT for each: "" -> {".courier"}; "a-b" -> {".courier-a-b", ".courier-a-default",
// ".courier-default"}. '.' in the extension is written ':'; lowercase when asked.
// `dotname` is the dotextension file's value ("courier" by default).
struct DotFile {
    std::string name;
    std::string default_part;   // what "default" stood for
};
std::vector<DotFile> dot_courier_candidates(std::string_view extension, std::string_view dotname,
                                            bool lowercase);

// How a delivery program's wait status ends the delivery (dot-courier(5)): 0 next
// instruction, 99 success and stop, 64 65 67 68 69 70 76 77 78 112 (and qmail's 100)
// permanent failure, a signal or any other code temporary failure.
enum class ProgramOutcome { next, stop, permanent, temporary };
ProgramOutcome classify_program_exit(int wait_status);

// How many header lines "Delivered-To: <address>" (name case-insensitive, value
// compared case-insensitively after trimming) the header section of `message` has.
size_t count_delivered_to(std::string_view message_head, std::string_view address);

// The environment of a delivery program ("NAME=value" strings).
struct ProgramContext {
    std::string home, user, sender, recipient, extension, default_part;
    std::string dtline, rpline, ufline;
};
std::vector<std::string> program_environment(const ProgramContext& c);

// "From <sender> <ctime>" (the mbox separator; "MAILER-DAEMON" for the null sender).
std::string mbox_from_line(std::string_view sender, long long when);

}  // namespace local

// Delivery instruction rules of dot-courier(5): parsing, .courier file names for
// extensions, program exit classes, the Delivered-To loop count, program environment.
#include "local/instructions.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <ctime>
#include "lib/address.h"

namespace local {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

bool is_directory(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Splits forward targets: "a@x, b@y c@z" and "Name <a@x>" forms.
bool parse_forward(std::string_view line, std::vector<std::string>* out, std::string* error) {
    std::string cur;
    auto flush_word = [&](std::string_view word) {
        word = trim(word);
        if (word.empty()) return true;
        if (word.front() == '<' && word.back() == '>') word = word.substr(1, word.size() - 2);
        std::string why;
        auto mbox = parse_mailbox(word, &why);
        if (!mbox) {
            *error = "bad forward address \"" + std::string(word) + "\": " + why;
            return false;
        }
        out->push_back(mbox->str());
        return true;
    };
    size_t start = 0;
    while (start <= line.size()) {
        size_t comma = line.find(',', start);
        std::string_view item = trim(line.substr(start, comma == std::string_view::npos
                                                            ? std::string_view::npos
                                                            : comma - start));
        size_t lt = item.find('<'), gt = item.rfind('>');
        if (lt != std::string_view::npos && gt != std::string_view::npos && gt > lt) {
            if (!flush_word(item.substr(lt + 1, gt - lt - 1))) return false;
        } else {
            size_t p = 0;
            while (p < item.size()) {
                size_t sp = item.find_first_of(" \t", p);
                if (sp == std::string_view::npos) sp = item.size();
                if (!flush_word(item.substr(p, sp - p))) return false;
                p = sp + 1;
            }
        }
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return true;
}

}  // namespace

std::vector<Instruction> parse_instructions(std::string_view text, std::string* error) {
    std::vector<Instruction> out;
    error->clear();
    size_t pos = 0;
    while (pos < text.size()) {
        size_t lf = text.find('\n', pos);
        if (lf == std::string_view::npos) lf = text.size();
        std::string line(text.substr(pos, lf - pos));
        pos = lf + 1;
        // "\" at the end of a program line continues it on the next line.
        while (!line.empty() && line[0] == '|' && !trim(line).empty() && trim(line).back() == '\\' &&
               pos < text.size()) {
            std::string_view t = trim(line);
            t.remove_suffix(1);
            line = std::string(trim(t)) + " ";
            lf = text.find('\n', pos);
            if (lf == std::string_view::npos) lf = text.size();
            line += trim(text.substr(pos, lf - pos));
            pos = lf + 1;
        }
        std::string_view l = trim(line);
        if (l.empty() || l[0] == '#') continue;
        Instruction ins;
        ins.text = std::string(l);
        if (l[0] == '/' || l[0] == '.') {
            std::string path(l);
            bool slash = path.size() > 1 && path.back() == '/';
            while (path.size() > 1 && path.back() == '/') path.pop_back();
            ins.kind = slash || is_directory(path) ? Instruction::Kind::maildir
                                                   : Instruction::Kind::mbox;
            ins.target = path;
        } else if (l[0] == '|') {
            ins.kind = Instruction::Kind::program;
            ins.target = std::string(trim(l.substr(1)));
            if (ins.target.empty()) {
                *error = "empty program instruction";
                return {};
            }
        } else {
            if (l[0] == '&' || l[0] == '!') l.remove_prefix(1);
            ins.kind = Instruction::Kind::forward;
            if (!parse_forward(l, &ins.addresses, error)) return {};
            if (ins.addresses.empty()) continue;
        }
        out.push_back(std::move(ins));
    }
    return out;
}

std::string address_extension(std::string_view address, std::string_view account) {
    size_t at = address.rfind('@');
    std::string_view local = address.substr(0, at);
    if (local.size() > account.size() + 1 &&
        lowercase_ascii(local.substr(0, account.size())) == lowercase_ascii(account) &&
        local[account.size()] == '-')
        return std::string(local.substr(account.size() + 1));
    return "";
}

std::vector<DotFile> dot_courier_candidates(std::string_view extension, std::string_view dotname,
                                            bool lowercase) {
    std::string base = "." + std::string(dotname.empty() ? "courier" : dotname);
    if (extension.empty()) return {{base, ""}};
    std::string ext(extension);
    for (char& c : ext) {
        if (c == '.') c = ':';
        // A '/' would leave the home directory: it cannot be part of a file name.
        if (c == '/') c = ':';
    }
    if (lowercase) ext = lowercase_ascii(ext);
    std::vector<DotFile> out{{base + "-" + ext, ""}};
    // Drop one "-part" at a time from the end: a-b-c -> a-b-default, a-default, default.
    for (size_t end = ext.size();;) {
        size_t dash = end == 0 ? std::string::npos : ext.rfind('-', end - 1);
        if (dash == std::string::npos) {
            out.push_back({base + "-default", std::string(extension)});
            break;
        }
        out.push_back({base + "-" + ext.substr(0, dash) + "-default",
                       std::string(extension.substr(dash + 1))});
        end = dash;
    }
    return out;
}

ProgramOutcome classify_program_exit(int wait_status) {
    if (!WIFEXITED(wait_status)) return ProgramOutcome::temporary;
    switch (WEXITSTATUS(wait_status)) {
    case 0: return ProgramOutcome::next;
    case 99: return ProgramOutcome::stop;
    case 64: case 65: case 67: case 68: case 69: case 70:
    case 76: case 77: case 78: case 100: case 112:
        return ProgramOutcome::permanent;
    default: return ProgramOutcome::temporary;
    }
}

size_t count_delivered_to(std::string_view head, std::string_view address) {
    size_t count = 0, pos = 0;
    std::string want = lowercase_ascii(trim(address));
    while (pos < head.size()) {
        size_t lf = head.find('\n', pos);
        if (lf == std::string_view::npos) lf = head.size();
        std::string_view line = head.substr(pos, lf - pos);
        pos = lf + 1;
        if (trim(line).empty()) break;   // end of the header section
        size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        if (lowercase_ascii(trim(line.substr(0, colon))) != "delivered-to") continue;
        std::string_view value = trim(line.substr(colon + 1));
        if (value.size() > 1 && value.front() == '<' && value.back() == '>')
            value = value.substr(1, value.size() - 2);
        if (lowercase_ascii(value) == want) ++count;
    }
    return count;
}

std::vector<std::string> program_environment(const ProgramContext& c) {
    std::string_view rcpt = c.recipient;
    size_t at = rcpt.rfind('@');
    std::string host = at == std::string_view::npos ? "localhost" : std::string(rcpt.substr(at + 1));
    std::string localpart(rcpt.substr(0, at));
    // EXT2..EXT4: what follows the first, second, third '-' of the extension.
    std::string ext[4] = {c.extension, "", "", ""};
    for (int i = 1; i < 4; ++i) {
        size_t dash = ext[i - 1].find('-');
        if (dash == std::string::npos) break;
        ext[i] = ext[i - 1].substr(dash + 1);
    }
    return {
        "HOME=" + c.home,           "USER=" + c.user,
        "SENDER=" + c.sender,       "RECIPIENT=" + c.recipient,
        "HOST=" + host,             "LOCAL=" + localpart,
        "EXT=" + ext[0],            "EXT2=" + ext[1],
        "EXT3=" + ext[2],           "EXT4=" + ext[3],
        "DEFAULT=" + c.default_part, "DTLINE=" + c.dtline,
        "RPLINE=" + c.rpline,       "UFLINE=" + c.ufline,
        "SHELL=/bin/sh",            "MAILDIRQUOTA=",
    };
}

std::string mbox_from_line(std::string_view sender, long long when) {
    std::time_t t = static_cast<std::time_t>(when);
    char buf[64] = {};
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
    std::string s(sender.empty() ? "MAILER-DAEMON" : sender);
    for (char& ch : s)
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') ch = '_';
    return "From " + s + " " + buf;
}

}  // namespace local

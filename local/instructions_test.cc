// Unit tests of the dot-courier(5) rules: instruction lines, .courier names for
// extensions, program exit classes, Delivered-To counting, the program environment.
#include "local/instructions.h"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <algorithm>

using namespace local;

TEST_CASE("instruction lines of each kind") {
    std::string err;
    auto v = parse_instructions(
        "# comment\n\n./Maildir/\n/var/mail/u\n|  prog arg \\\n  more\n&a@x.example\n"
        "b@y.example, Name <c@z.example>\n!d@w.example e@v.example\n",
        &err);
    CHECK(err.empty());
    REQUIRE(v.size() == 6);
    CHECK(v[0].kind == Instruction::Kind::maildir);
    CHECK(v[0].target == "./Maildir");
    CHECK(v[1].kind == Instruction::Kind::mbox);
    CHECK(v[1].target == "/var/mail/u");
    CHECK(v[2].kind == Instruction::Kind::program);
    CHECK(v[2].target == "prog arg more");
    CHECK(v[3].kind == Instruction::Kind::forward);
    CHECK(v[3].addresses == std::vector<std::string>{"a@x.example"});
    CHECK(v[4].addresses == std::vector<std::string>{"b@y.example", "c@z.example"});
    CHECK(v[5].addresses == std::vector<std::string>{"d@w.example", "e@v.example"});
    CHECK(v[3].text == "&a@x.example");
}

TEST_CASE("an existing folder is a Maildir even without the slash; bad lines are errors") {
    std::string err;
    auto v = parse_instructions("/tmp\n", &err);
    REQUIRE(v.size() == 1);
    CHECK(v[0].kind == Instruction::Kind::maildir);
    CHECK(parse_instructions("&bad address@@x\n", &err).empty());
    CHECK_FALSE(err.empty());
    CHECK(parse_instructions("|\n", &err).empty());
    CHECK_FALSE(err.empty());
}

TEST_CASE("address extensions") {
    CHECK(address_extension("joe@x", "joe") == "");
    CHECK(address_extension("joe-list@x", "joe") == "list");
    CHECK(address_extension("Joe-a-b@x", "joe") == "a-b");
    CHECK(address_extension("joey@x", "joe") == "");
    CHECK(address_extension("postmaster@x", "joe") == "");
}

TEST_CASE(".courier file names for an extension, with $DEFAULT") {
    auto c = dot_courier_candidates("", "courier", false);
    REQUIRE(c.size() == 1);
    CHECK(c[0].name == ".courier");
    c = dot_courier_candidates("Foo.Bar-baz-q", "courier", true);
    REQUIRE(c.size() == 4);
    CHECK(c[0].name == ".courier-foo:bar-baz-q");
    CHECK(c[1].name == ".courier-foo:bar-baz-default");
    CHECK(c[1].default_part == "q");
    CHECK(c[2].name == ".courier-foo:bar-default");
    CHECK(c[2].default_part == "baz-q");
    CHECK(c[3].name == ".courier-default");
    CHECK(c[3].default_part == "Foo.Bar-baz-q");
    c = dot_courier_candidates("x/y", "qmail", false);
    CHECK(c[0].name == ".qmail-x:y");
}

TEST_CASE("program exit classes follow dot-courier(5)") {
    auto exited = [](int code) { return code << 8; };
    CHECK(classify_program_exit(exited(0)) == ProgramOutcome::next);
    CHECK(classify_program_exit(exited(99)) == ProgramOutcome::stop);
    for (int c : {64, 65, 67, 68, 69, 70, 76, 77, 78, 100, 112})
        CHECK(classify_program_exit(exited(c)) == ProgramOutcome::permanent);
    for (int c : {1, 66, 71, 74, 75, 111})
        CHECK(classify_program_exit(exited(c)) == ProgramOutcome::temporary);
    CHECK(classify_program_exit(SIGKILL) == ProgramOutcome::temporary);
}

TEST_CASE("Delivered-To lines of the header section are counted") {
    std::string head = "Received: x\nDelivered-To: a@x\nDELIVERED-TO:   <A@X>\n"
                       "Delivered-To: b@x\n\nDelivered-To: a@x\n";
    CHECK(count_delivered_to(head, "a@x") == 2);
    CHECK(count_delivered_to(head, "b@x") == 1);
    CHECK(count_delivered_to(head, "c@x") == 0);
}

TEST_CASE("program environment and the mbox From_ line") {
    ProgramContext c{"/home/u", "u", "s@x", "u-a-b-c@example.com", "a-b-c", "c", "DT", "RP", "UF"};
    auto env = program_environment(c);
    auto has = [&](const std::string& kv) { return std::find(env.begin(), env.end(), kv) != env.end(); };
    CHECK(has("HOST=example.com"));
    CHECK(has("LOCAL=u-a-b-c"));
    CHECK(has("EXT=a-b-c"));
    CHECK(has("EXT2=b-c"));
    CHECK(has("EXT3=c"));
    CHECK(has("EXT4="));
    CHECK(has("DEFAULT=c"));
    CHECK(has("DTLINE=DT"));
    CHECK(has("RPLINE=RP"));
    CHECK(has("UFLINE=UF"));
    CHECK(mbox_from_line("", 0) == "From MAILER-DAEMON Thu Jan  1 00:00:00 1970");
    CHECK(mbox_from_line("a b@x", 0).rfind("From a_b@x ", 0) == 0);
}

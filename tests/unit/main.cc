// The unit test binary's entry point; the test cases live next to the code they test
// (<folder>/*_test.cc). It ends with a "RESULT: N passed, N failed" line that
// ./run-tests adds up with the integration tests.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <cstdio>

namespace {
// Counts test cases as they finish, so the summary needs no parsing of doctest's output.
struct CountingReporter : doctest::IReporter {
    static inline int passed = 0, failed = 0;
    explicit CountingReporter(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats&) override {}
    void test_case_start(const doctest::TestCaseData&) override {}
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats& st) override {
        (st.failure_flags ? failed : passed)++;
    }
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};
REGISTER_LISTENER("counting", 1, CountingReporter);
}  // namespace

int main(int argc, char** argv) {
    doctest::Context ctx(argc, argv);
    int rc = ctx.run();
    if (ctx.shouldExit()) return rc;
    std::printf("RESULT: %d passed, %d failed\n", CountingReporter::passed, CountingReporter::failed);
    return rc;
}

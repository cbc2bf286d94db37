// forkexec: the baseline of the couriertcpd figure (issue 9): how many fork+exec+wait
// cycles of a trivial program this machine does per second, with nothing else around.
//   forkexec N PROGRAM   prints "<cycles per second>"
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: forkexec N PROGRAM\n");
        return 2;
    }
    long n = std::atol(argv[1]);
    auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < n; ++i) {
        pid_t pid = fork();
        if (pid < 0) return 1;
        if (pid == 0) {
            execl(argv[2], argv[2], static_cast<char*>(nullptr));
            _exit(127);
        }
        int st = 0;
        if (waitpid(pid, &st, 0) < 0) return 1;
    }
    std::chrono::duration<double> d = std::chrono::steady_clock::now() - start;
    std::printf("%.1f\n", static_cast<double>(n) / d.count());
    return 0;
}

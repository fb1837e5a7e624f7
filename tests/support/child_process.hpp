#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace voicegate::test {

/// A child process for black-box tests of the real binary: stdout and stderr merged into one
/// pipe that the test reads line by line. Not thread-safe.
class ChildProcess {
public:
    /// Starts `argv` with the parent's environment plus `env` (cwd unchanged). Throws on failure.
    ChildProcess(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
                 std::string cwd = {});
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    /// Reads output until a line contains `needle`; returns that line, or nullopt on timeout/EOF.
    std::optional<std::string> wait_for_line(const std::string& needle,
                                             std::chrono::milliseconds timeout);
    /// Sends `sig`.
    void signal(int sig);
    /// Waits for exit (up to timeout); returns the exit code, 128+signal, or nullopt on timeout.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);
    /// Everything read so far.
    const std::string& output() const { return output_; }
    /// Reads whatever is available now without blocking.
    void drain();
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
    int fd_ = -1;
    std::string output_;
    std::size_t scanned_ = 0;
    bool exited_ = false;
    int status_ = 0;
};

/// Makes a fresh temporary directory and returns its path.
std::string make_temp_dir();

/// Parses the port from a "listening on http://host:PORT" line; 0 if absent.
int port_from_listen_line(const std::string& line);

}  // namespace voicegate::test

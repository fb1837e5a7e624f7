// A real browser against the emulator: Chromium (headless) loads a page from one loopback
// server, mints a client secret from the emulator on another (cross-origin: CORS preflight and
// exposed headers are exercised), posts its own SDP offer to /v1/realtime/calls and applies the
// answer with setRemoteDescription({type:'answer'}). The page reports the outcome back.
// Chromium is a project dependency (scripts/deps.sh); the test is skipped only where it is not
// installed. VOICEGATE_CHROMIUM overrides the binary.

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "emulator/emulator.hpp"
#include "http/server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace voicegate::emulator {
namespace {
namespace asio = boost::asio;

std::string find_chromium() {
    if (const char* env = std::getenv("VOICEGATE_CHROMIUM"); env != nullptr && *env != '\0') {
        // A named browser that is not there is a missing browser, not a crash later.
        return ::access(env, X_OK) == 0 ? std::string(env) : std::string();
    }
    for (const char* candidate :
         {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}) {
        if (::access(candidate, X_OK) == 0) {
            return candidate;
        }
    }
    return {};
}

// The page: everything the diary app does up to setRemoteDescription, then a report.
std::string page(std::uint16_t emulator_port) {
    std::string html = R"(<!doctype html><html><body><script>
const E = 'http://127.0.0.1:EMULATOR_PORT';
const report = (s) => fetch('/result', {method: 'POST', body: s});
(async () => {
  try {
    const r = await fetch(E + '/v1/realtime/client_secrets', {method: 'POST',
      headers: {'Authorization': 'Bearer sk-test-browser', 'Content-Type': 'application/json'},
      body: JSON.stringify({session: {type: 'realtime', model: 'gpt-realtime',
                                      audio: {output: {voice: 'marin'}}}})});
    if (r.status !== 200) throw new Error('client_secrets ' + r.status + ' ' + await r.text());
    const secret = await r.json();
    const pc = new RTCPeerConnection();
    try {
      const mic = await navigator.mediaDevices.getUserMedia({audio: true});
      mic.getTracks().forEach((t) => pc.addTrack(t, mic));
    } catch (e) {
      pc.addTransceiver('audio', {direction: 'sendrecv'});
    }
    let streams = -1;
    pc.ontrack = (e) => { streams = e.streams.length; };
    pc.createDataChannel('oai-events');
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const c = await fetch(E + '/v1/realtime/calls', {method: 'POST',
      headers: {'Authorization': 'Bearer ' + secret.value, 'Content-Type': 'application/sdp'},
      body: offer.sdp});
    if (c.status !== 201) throw new Error('calls ' + c.status + ' ' + await c.text());
    const location = c.headers.get('Location') || '';
    await pc.setRemoteDescription({type: 'answer', sdp: await c.text()});
    const mids = pc.getTransceivers().map((t) => t.mid).join(',');
    report(['ok', pc.signalingState, location.split('/').pop().slice(0, 4), 'mids=' + mids,
            pc.sctp ? 'sctp' : 'no-sctp', 'streams=' + streams].join(' '));
    pc.close();
  } catch (e) {
    report('error ' + e);
  }
})();
</script></body></html>)";
    const std::string marker = "EMULATOR_PORT";
    html.replace(html.find(marker), marker.size(), std::to_string(emulator_port));
    return html;
}

class Browser {
public:
    Browser(const std::string& binary, const std::string& url) {
        profile_ = std::filesystem::temp_directory_path() /
                   ("vg-emulator-chrome-" + std::to_string(::getpid()));
        std::filesystem::create_directories(profile_);
        const std::string profile_arg = "--user-data-dir=" + profile_.string();
        std::vector<std::string> args = {binary,
                                         "--headless=new",
                                         "--no-sandbox",
                                         "--disable-gpu",
                                         "--no-first-run",
                                         "--disable-background-networking",
                                         "--disable-component-update",
                                         "--disable-sync",
                                         "--use-fake-device-for-media-stream",
                                         "--use-fake-ui-for-media-stream",
                                         profile_arg,
                                         url};
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        const int devnull = ::open("/dev/null", O_WRONLY);
        pid_ = ::fork();
        if (pid_ == 0) {
            // Only async-signal-safe calls here: the parent has other threads.
            ::setpgid(0, 0);  // its own group, so every helper process can be ended with it
            ::dup2(devnull, STDOUT_FILENO);
            ::dup2(devnull, STDERR_FILENO);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        ::close(devnull);
        if (pid_ > 0) {
            ::setpgid(pid_, pid_);
        }
    }

    ~Browser() {
        if (pid_ > 0) {
            ::kill(-pid_, SIGTERM);
            for (int i = 0; i < 50 && ::waitpid(pid_, nullptr, WNOHANG) == 0; ++i) {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
            ::kill(-pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        std::error_code ec;
        std::filesystem::remove_all(profile_, ec);
    }

    Browser(const Browser&) = delete;
    Browser& operator=(const Browser&) = delete;

    bool started() const { return pid_ > 0; }

private:
    pid_t pid_ = -1;
    std::filesystem::path profile_;
};

TEST(EmulatorChrome, BrowserAcceptsTheSdpAnswer) {
    const std::string chromium = find_chromium();
    if (chromium.empty()) {
        // As with PostgreSQL and Redis (support/pg_test_db.hpp): in CI this must always run, so
        // a missing browser fails unless skipping was asked for (test review D6).
        const char* allow = std::getenv("VOICEGATE_ALLOW_NO_CHROMIUM");
        if (allow != nullptr && std::string(allow) == "1") {
            GTEST_SKIP() << "chromium is not installed; skipped (VOICEGATE_ALLOW_NO_CHROMIUM=1)";
        }
        FAIL() << "chromium is not installed, so no browser checks the emulator's SDP answer. "
                  "scripts/deps.sh installs it; set VOICEGATE_ALLOW_NO_CHROMIUM=1 to skip this "
                  "test on purpose.";
    }
    asio::io_context ioc;
    http::ServerOptions so;
    so.host = "127.0.0.1";
    so.port = 0;
    so.access_log = false;

    Emulator emulator(EmulatorOptions{});
    http::Server emulator_server({&ioc}, so, emulator.handler());

    std::promise<std::string> result;
    std::once_flag once;
    const std::string html = page(emulator_server.port());
    http::Server page_server({&ioc}, so,
                             [&](http::Request& req) -> asio::awaitable<http::Response> {
                                 http::Response res;
                                 if (req.method == "POST" && req.path == "/result") {
                                     std::call_once(once, [&] { result.set_value(req.body); });
                                     res.content_type = "text/plain";
                                     co_return res;
                                 }
                                 if (req.path == "/") {
                                     res.content_type = "text/html; charset=utf-8";
                                     res.body = html;
                                     co_return res;
                                 }
                                 res.status = 404;
                                 co_return res;
                             });
    emulator_server.start();
    page_server.start();
    std::thread loop([&] { ioc.run(); });

    std::string outcome = "timeout";
    {
        Browser browser(chromium, "http://127.0.0.1:" + std::to_string(page_server.port()) + "/");
        ASSERT_TRUE(browser.started());
        auto fut = result.get_future();
        if (fut.wait_for(std::chrono::seconds(60)) == std::future_status::ready) {
            outcome = fut.get();
        }
    }
    ioc.stop();
    loop.join();

    // Accepted as an answer; the audio m-line (mid 0) and the data channel (SCTP) negotiated;
    // the remote track arrives with a stream (msid), as OpenAI's samples expect (e.streams[0]).
    EXPECT_EQ(outcome, "ok stable rtc_ mids=0 sctp streams=1");
    const auto stats = emulator.stats();
    EXPECT_EQ(stats.secrets_issued, 1U);
    EXPECT_EQ(stats.calls_created, 1U);
}

}  // namespace
}  // namespace voicegate::emulator

// The JSON application log (VOICEGATE_LOG_JSON=1) writes one valid JSON object per line.
#include "core/log.hpp"

#include <sstream>

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <spdlog/sinks/ostream_sink.h>

namespace voicegate::log {
namespace {

TEST(JsonLog, MessagesWithQuotesControlsAndBadUtf8StayValidJson) {
    std::ostringstream out;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    sink->set_formatter(json_formatter());
    spdlog::logger logger("json-test", sink);
    logger.warn("JWKS: {} said \"no\"\n\tnext \xff\xfe end", "https://h/jwks.json");
    logger.flush();
    const auto line = out.str();
    ASSERT_FALSE(line.empty());
    ASSERT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << line;  // one line
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << line;
    const auto& o = v.as_object();
    EXPECT_EQ(o.at("level"), "warning");
    EXPECT_EQ(o.at("msg"),
              "JWKS: https://h/jwks.json said \"no\"\n\tnext \xEF\xBF\xBD\xEF\xBF\xBD end");
    EXPECT_TRUE(o.contains("time"));
}

}  // namespace
}  // namespace voicegate::log

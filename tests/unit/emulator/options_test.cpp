#include "emulator/options.hpp"

#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include <gtest/gtest.h>

namespace voicegate::emulator {
namespace {

TEST(EmulatorOptions, ParsesCliStyleArguments) {
    EmulatorOptions o;
    const auto errors = parse_emulator_args({"--latency-ms",
                                             "20",
                                             "--error-rate=0.1",
                                             "--hang-rate",
                                             "0.05",
                                             "--latency_jitter_ms",
                                             "5",
                                             "--rate-limit-rate",
                                             "1",
                                             "--retry-after-ms",
                                             "1500",
                                             "--seed",
                                             "42",
                                             "--single-use-secrets",
                                             "--api-key",
                                             "sk-test-123",
                                             "--media-address",
                                             "::1",
                                             "--max-secrets",
                                             "10",
                                             "--quota-rate",
                                             "0",
                                             "--malformed-rate",
                                             "0.5",
                                             "--reset-rate",
                                             "0.25"},
                                            o);
    EXPECT_TRUE(errors.empty()) << errors.front();
    EXPECT_EQ(o.faults.latency_ms, 20);
    EXPECT_EQ(o.faults.latency_jitter_ms, 5);
    EXPECT_DOUBLE_EQ(o.faults.error_rate, 0.1);
    EXPECT_DOUBLE_EQ(o.faults.hang_rate, 0.05);
    EXPECT_DOUBLE_EQ(o.faults.rate_limit_rate, 1.0);
    EXPECT_DOUBLE_EQ(o.faults.malformed_rate, 0.5);
    EXPECT_DOUBLE_EQ(o.faults.reset_rate, 0.25);
    EXPECT_EQ(o.faults.retry_after_ms, 1500);
    EXPECT_EQ(o.seed, 42U);
    EXPECT_TRUE(o.single_use_secrets);
    EXPECT_EQ(o.api_key, "sk-test-123");
    EXPECT_EQ(o.media_address, "::1");
    EXPECT_EQ(o.max_secrets, 10U);
    EXPECT_FALSE(o.faults.none());
}

TEST(EmulatorOptions, ReportsOneLinePerProblem) {
    EmulatorOptions o;
    const auto errors = parse_emulator_args({"--error-rate", "1.5", "--latency-ms", "-1", "--bogus",
                                             "1", "stray", "--hang-rate", "--seed", "x"},
                                            o);
    ASSERT_EQ(errors.size(), 7U);
    EXPECT_EQ(errors[0], "--error-rate: '1.5' is not a rate between 0 and 1");
    EXPECT_EQ(errors[1], "--latency-ms: '-1' is not a number of milliseconds 0..3600000");
    EXPECT_EQ(errors[2], "unknown option --bogus");
    EXPECT_EQ(errors[3], "unexpected argument '1'");
    EXPECT_EQ(errors[4], "unexpected argument 'stray'");
    EXPECT_EQ(errors[5], "--hang-rate: a value (RATE) is required");
    EXPECT_EQ(errors[6], "--seed: 'x' is not an unsigned integer");
    EXPECT_EQ(o.faults.error_rate, 0.0);  // bad values leave the default
}

TEST(EmulatorOptions, EveryOptionHasHelpAndAWorkingSetter) {
    std::set<std::string_view> names;
    for (const auto& spec : emulator_option_specs()) {
        EXPECT_TRUE(names.insert(spec.name).second) << spec.name;
        EXPECT_FALSE(spec.help.empty()) << spec.name;
        EXPECT_LE(spec.help.size(), 80U) << spec.name;  // one line in --help
        EXPECT_FALSE(spec.value_name.empty()) << spec.name;
        EmulatorOptions o;
        const std::string good = spec.value_name == "BOOL"   ? "true"
                                 : spec.value_name == "KEY"  ? "sk-x"
                                 : spec.value_name == "IP"   ? "127.0.0.1"
                                 : spec.value_name == "KIND" ? "duration"
                                                             : "1";
        EXPECT_EQ(set_emulator_option(o, spec.name, good), "") << spec.name;
    }
    for (const auto* fault :
         {"latency-ms", "latency-jitter-ms", "error-rate", "rate-limit-rate", "quota-rate",
          "malformed-rate", "reset-rate", "hang-rate", "retry-after-ms"}) {
        EXPECT_TRUE(names.count(fault)) << fault;
    }
}

TEST(EmulatorOptions, AppliesConfigFileSettings) {
    // As config::EmulatorConfig::options holds the [emulator] table of voicegate.toml.
    EmulatorOptions o;
    EXPECT_TRUE(apply_emulator_options({{"latency-ms", "20"},
                                        {"error_rate", "0.0"},
                                        {"hang-rate", "0.05"},
                                        {"single-use-secrets", "true"}},
                                       o)
                    .empty());
    EXPECT_EQ(o.faults.latency_ms, 20);
    EXPECT_DOUBLE_EQ(o.faults.hang_rate, 0.05);
    EXPECT_TRUE(o.single_use_secrets);
    EXPECT_EQ(
        apply_emulator_options({{"latency-ms", "fast"}, {"nope", "1"}}, o),
        (std::vector<std::string>{"--latency-ms: 'fast' is not a number of milliseconds 0..3600000",
                                  "unknown option --nope"}));
}

TEST(EmulatorOptions, FaultsJsonRoundTripAndMerge) {
    FaultSettings f;
    f.error_rate = 0.5;
    auto merged =
        apply_faults_json(f, R"({"hang_rate":1,"latency_ms":25.0,"retry-after-ms":"2000"})");
    ASSERT_TRUE(merged) << merged.error().message;
    EXPECT_DOUBLE_EQ(merged->error_rate, 0.5);  // untouched
    EXPECT_DOUBLE_EQ(merged->hang_rate, 1.0);
    EXPECT_EQ(merged->latency_ms, 25);
    EXPECT_EQ(merged->retry_after_ms, 2000);
    const auto json = faults_to_json(*merged);
    EXPECT_EQ(json.at("hang_rate").to_number<double>(), 1.0);
    EXPECT_EQ(json.at("latency_ms").as_int64(), 25);
    EXPECT_EQ(json.size(), 12U);
    // The JSON of the settings is accepted back as is.
    const auto again = apply_faults_json(FaultSettings{}, boost::json::serialize(json));
    ASSERT_TRUE(again);
    EXPECT_EQ(faults_to_json(*again), json);
}

TEST(EmulatorOptions, FaultsJsonRejectsBadInput) {
    auto r = apply_faults_json({}, R"({"error_rate":2})");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().param, "error_rate");
    EXPECT_EQ(r.error().code, "invalid_value");
    r = apply_faults_json({}, R"({"seed":1})");  // not a run-time setting
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "unknown_parameter");
    EXPECT_FALSE(apply_faults_json({}, "nope"));
    EXPECT_FALSE(apply_faults_json({}, "[]"));
    EXPECT_FALSE(apply_faults_json({}, R"({"latency_ms":1.5})"));
    EXPECT_FALSE(apply_faults_json({}, R"({"latency_ms":null})"));
}

}  // namespace
}  // namespace voicegate::emulator

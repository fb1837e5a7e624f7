#pragma once

#include <map>
#include <string>

#include <gtest/gtest.h>

#include "config/config.hpp"

namespace voicegate::test {

/// The configuration loaded from the embedded defaults plus `env` (as if from the environment);
/// a load that fails is a test failure naming its first error, and gives the defaults.
inline config::Config config_from_env(std::map<std::string, std::string> env = {}) {
    config::Sources s;
    s.env = std::move(env);
    auto loaded = config::load_config(s);
    EXPECT_TRUE(loaded.config.has_value()) << (loaded.errors.empty() ? "" : loaded.errors[0]);
    return loaded.config ? *loaded.config : config::Config{};
}

}  // namespace voicegate::test

#include "core/ids.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <array>
#include <random>

namespace voicegate {
namespace {

std::mt19937_64& generator() {
    thread_local std::mt19937_64 gen = [] {
        std::array<unsigned char, 8> seed{};
        if (RAND_bytes(seed.data(), static_cast<int>(seed.size())) != 1) {
            std::random_device rd;
            return std::mt19937_64(rd());
        }
        std::uint64_t s = 0;
        for (auto b : seed) {
            s = (s << 8U) | b;
        }
        return std::mt19937_64(s);
    }();
    return gen;
}

std::string random_from(std::string_view prefix, std::size_t n, std::string_view alphabet) {
    std::string out(prefix);
    out.reserve(prefix.size() + n);
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    auto& gen = generator();
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(alphabet[pick(gen)]);
    }
    return out;
}

}  // namespace

std::string random_id(std::string_view prefix, std::size_t n) {
    return random_from(prefix, n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
}

std::string random_hex(std::string_view prefix, std::size_t n) {
    return random_from(prefix, n, "0123456789abcdef");
}

std::string redact_secret(std::string_view secret) {
    std::string prefix;
    if (secret.rfind("ek_", 0) == 0) {
        prefix = "ek_";
    } else if (secret.rfind("sk-", 0) == 0) {
        prefix = "sk-";
    }
    if (secret.size() < prefix.size() + 12) {
        return prefix + "…";
    }
    return prefix + "…" + std::string(secret.substr(secret.size() - 4));
}

bool constant_time_equals(std::string_view a, std::string_view b) {
    // Compare over the longer length so the time does not reveal the common prefix length.
    const std::size_t n = std::max(a.size(), b.size());
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < n; ++i) {
        const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff |= static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

}  // namespace voicegate

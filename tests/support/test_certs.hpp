#pragma once

#include <string>
#include <vector>

namespace voicegate::test {

/// Throw-away TLS material for tests, generated with OpenSSL at construction into a fresh
/// temporary directory (removed by the destructor): a CA and a server certificate it signed for
/// `dns_names` and `ips` (subjectAltName), or, with `self_signed`, a lone self-signed server
/// certificate. EC P-256 keys, valid from an hour ago for a day. Throws std::runtime_error if
/// OpenSSL fails. Not thread-safe; create one per test.
class TestCerts {
public:
    explicit TestCerts(std::vector<std::string> dns_names = {"localhost"},
                       std::vector<std::string> ips = {}, bool self_signed = false);
    ~TestCerts();
    TestCerts(const TestCerts&) = delete;
    TestCerts& operator=(const TestCerts&) = delete;

    /// PEM file of the trust anchor (the CA, or the self-signed certificate itself).
    const std::string& ca_file() const { return ca_file_; }
    /// PEM file of the server certificate.
    const std::string& cert_file() const { return cert_file_; }
    /// PEM file of the server's private key.
    const std::string& key_file() const { return key_file_; }

private:
    std::string dir_;
    std::string ca_file_;
    std::string cert_file_;
    std::string key_file_;
};

}  // namespace voicegate::test

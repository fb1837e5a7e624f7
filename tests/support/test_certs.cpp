#include "support/test_certs.hpp"

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace voicegate::test {
namespace {

struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
    void operator()(X509* p) const { X509_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

void check(bool ok, const char* what) {
    if (!ok) {
        throw std::runtime_error(std::string("test certificate generation failed: ") + what);
    }
}

Pkey make_key() {
    Pkey key(EVP_EC_gen("P-256"));
    check(key != nullptr, "EVP_EC_gen");
    return key;
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    check(ext != nullptr, "X509V3_EXT_conf_nid");
    check(X509_add_ext(cert, ext, -1) == 1, "X509_add_ext");
    X509_EXTENSION_free(ext);
}

// A certificate for `key` named `cn`, signed by `issuer_key` (issuer `issuer`, or itself).
Cert make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
               long serial, bool ca, const std::string& san) {
    Cert cert(X509_new());
    check(cert != nullptr, "X509_new");
    X509* x = cert.get();
    check(X509_set_version(x, 2) == 1, "X509_set_version");
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
    check(X509_set_pubkey(x, key) == 1, "X509_set_pubkey");
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("voicegate tests"), -1, -1,
                               0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509* signer = issuer != nullptr ? issuer : x;
    check(X509_set_issuer_name(x, X509_get_subject_name(signer)) == 1, "X509_set_issuer_name");
    add_ext(x, signer, NID_subject_key_identifier, "hash");
    if (ca) {
        add_ext(x, signer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
    } else {
        add_ext(x, signer, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(x, signer, NID_key_usage, "critical,digitalSignature");
        add_ext(x, signer, NID_ext_key_usage, "serverAuth");
    }
    if (issuer != nullptr) {
        add_ext(x, signer, NID_authority_key_identifier, "keyid:always");
    }
    if (!san.empty()) {
        add_ext(x, signer, NID_subject_alt_name, san);
    }
    check(X509_sign(x, issuer_key, EVP_sha256()) > 0, "X509_sign");
    return cert;
}

void write_cert(const std::string& path, X509* cert) {
    BIO* bio = BIO_new_file(path.c_str(), "w");
    check(bio != nullptr, "BIO_new_file");
    const int ok = PEM_write_bio_X509(bio, cert);
    BIO_free(bio);
    check(ok == 1, "PEM_write_bio_X509");
}

void write_key(const std::string& path, EVP_PKEY* key) {
    BIO* bio = BIO_new_file(path.c_str(), "w");
    check(bio != nullptr, "BIO_new_file");
    const int ok = PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    BIO_free(bio);
    check(ok == 1, "PEM_write_bio_PrivateKey");
}

}  // namespace

TestCerts::TestCerts(std::vector<std::string> dns_names, std::vector<std::string> ips,
                     bool self_signed) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "voicegate-certs-XXXXXX").string();
    check(mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
    dir_ = tmpl;
    ca_file_ = dir_ + "/ca.pem";
    cert_file_ = dir_ + "/server.pem";
    key_file_ = dir_ + "/server.key";

    std::vector<std::string> names;
    for (const auto& d : dns_names) {
        names.push_back("DNS:" + d);
    }
    for (const auto& ip : ips) {
        names.push_back("IP:" + ip);
    }
    std::string san;
    for (const auto& n : names) {
        if (!san.empty()) {
            san.push_back(',');
        }
        san.append(n);
    }
    const std::string cn = dns_names.empty() ? "voicegate test server" : dns_names.front();
    auto server_key = make_key();
    if (self_signed) {
        auto cert = make_cert(server_key.get(), cn, nullptr, server_key.get(), 1, false, san);
        write_cert(cert_file_, cert.get());
        write_cert(ca_file_, cert.get());
    } else {
        auto ca_key = make_key();
        auto ca = make_cert(ca_key.get(), "voicegate test CA", nullptr, ca_key.get(), 1, true, "");
        auto cert = make_cert(server_key.get(), cn, ca.get(), ca_key.get(), 2, false, san);
        write_cert(ca_file_, ca.get());
        write_cert(cert_file_, cert.get());
    }
    write_key(key_file_, server_key.get());
}

TestCerts::~TestCerts() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

}  // namespace voicegate::test

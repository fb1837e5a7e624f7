#include "web/index_paths.hpp"

#include <gtest/gtest.h>

namespace voicegate::web {
namespace {

using Paths = std::vector<std::string>;

TEST(IndexPaths, AFileIsServedAtItsOwnPathOnly) {
    EXPECT_EQ(served_paths("/app.js"), Paths{"/app.js"});
    EXPECT_EQ(served_paths("/dashboard/chart.js"), Paths{"/dashboard/chart.js"});
}

TEST(IndexPaths, TheRootIndexIsAlsoServedAtSlash) {
    EXPECT_EQ(served_paths("/index.html"), (Paths{"/index.html", "/"}));
}

TEST(IndexPaths, ADirectoryIndexIsServedAtTheDirectoryWithAndWithoutItsSlash) {
    EXPECT_EQ(served_paths("/dashboard/index.html"),
              (Paths{"/dashboard/index.html", "/dashboard/", "/dashboard"}));
}

TEST(IndexPaths, OnlyAWholeIndexHtmlNameCounts) {
    EXPECT_EQ(served_paths("/myindex.html"), Paths{"/myindex.html"});
}

}  // namespace
}  // namespace voicegate::web

#include <gtest/gtest.h>

#include "common/util/flat_tree.h"

namespace hs::flat {
namespace {

TEST(FlatTree, IndexDepthOffset) {
    EXPECT_EQ(index(0, 0), 0u);
    EXPECT_EQ(index(0, 1), 2u);
    EXPECT_EQ(index(1, 0), 1u);
    EXPECT_EQ(index(1, 1), 5u);
    EXPECT_EQ(index(2, 0), 3u);
    EXPECT_EQ(depth(0), 0u);
    EXPECT_EQ(depth(7), 3u);
    EXPECT_EQ(offset(5), 1u);
    EXPECT_EQ(offset(11), 1u);
    EXPECT_EQ(offset(4), 2u);
}

TEST(FlatTree, Relations) {
    EXPECT_EQ(parent(0), 1u);
    EXPECT_EQ(parent(2), 1u);
    EXPECT_EQ(parent(1), 3u);
    EXPECT_EQ(parent(5), 3u);
    EXPECT_EQ(sibling(0), 2u);
    EXPECT_EQ(sibling(1), 5u);
    EXPECT_EQ(left_child(3), 1u);
    EXPECT_EQ(right_child(3), 5u);
    EXPECT_EQ(left_span(3), 0u);
    EXPECT_EQ(right_span(3), 6u);
    EXPECT_EQ(right_span(23), 30u);
    EXPECT_EQ(left_span(23), 16u);
}

TEST(FlatTree, FullRoots) {
    EXPECT_TRUE(full_roots(0).empty());
    EXPECT_EQ(full_roots(2), (std::vector<Index>{0}));
    EXPECT_EQ(full_roots(8), (std::vector<Index>{3}));
    EXPECT_EQ(full_roots(20), (std::vector<Index>{7, 17}));
    EXPECT_EQ(full_roots(18), (std::vector<Index>{7, 16}));
    EXPECT_EQ(full_roots(16), (std::vector<Index>{7}));
    EXPECT_EQ(full_roots(6), (std::vector<Index>{1, 4}));
}

TEST(FlatTree, ForEachFullRootMatchesFullRoots) {
    for (Index i = 0; i < 4000; i += 2) {
        std::vector<Index> seen;
        for_each_full_root(i, [&](Index r) { seen.push_back(r); });
        EXPECT_EQ(seen, full_roots(i)) << i;
    }
}

TEST(FlatTree, IteratorMatchesFunctions) {
    Iterator it(0);
    EXPECT_EQ(it.parent(), 1u);
    EXPECT_EQ(it.parent(), 3u);
    EXPECT_EQ(it.next(), 11u);
    EXPECT_EQ(it.sibling(), 3u);
    EXPECT_EQ(it.left_child(), 1u);
    EXPECT_EQ(it.right_child(), 2u);
    it.seek(11);
    EXPECT_EQ(it.factor(), 8u);
    EXPECT_FALSE(it.is_left());
}

}  // namespace
}  // namespace hs::flat

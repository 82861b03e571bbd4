// Hypercore 9 bitfield: byte-exact against JS hypercore 9.12.0 lib/bitfield.js (fixtures from
// tests/unit/hypercore/js/bitfield_fixture.js), and iteration/counting against a trivial model.
#include "v9/hypercore/bitfield.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "v9/hypercore/bitfield_rle.h"
#include "common/util/flat_tree.h"
#include "common/util/hex.h"

namespace hs::hypercore {
namespace {

// ---------------------------------------------------------------------------------------------
// JS fixtures
// ---------------------------------------------------------------------------------------------

// A page as the hex of its RLE encoding, or '#' and the FNV-1a 32 of its 3584 bytes.
struct PageFixture {
    std::uint64_t page;
    const char* bytes;
};

struct Fixture {
    const char* name;
    const char* ops;  // the op language of bitfield_fixture.js, interpreted by Runner below
    std::vector<std::int64_t> results;
    std::uint64_t page_count;        // JS pages.length
    std::uint64_t length;            // JS data.length (bits)
    std::uint64_t tree_length;       // JS tree.length
    std::uint64_t index_length;      // JS index.length
    std::vector<PageFixture> pages;  // every non-zero page
};

// Output of `node tests/unit/hypercore/js/bitfield_fixture.js`, pasted verbatim.
// clang-format off
const Fixture kFixtures[] = {
    {"three_blocks", "A 0 3; D",
     {1, 0},
     1, 8, 8, 4096,
     {{0, "02e0fd1f02e8fd3f08404000400d02401d02403d02407d0240fd010240fd030240fd070240"}}},
    {"sequential_20000", "A 0 20000; D; c 0 0; c 0 8192; c 8192 8192; c 16384 1048576; c 0 1048576; c 1048576 8192; c 8192 0",
     {3, 0, 1, 2, 2, 1617112900, 2, 373009238, 2, 373009238, 2, 2690880516, 2, 1617112900, 0, 2166136261, 0, 2166136261},
     3, 20000, 40000, 12288,
     {{0, "8370"},
      {1, "ff5f02feff0f02f4"},
      {2, "930ef111ff0f02feff0702feff0302fe1f02fee123ff0302fdff0102fd7f0af4fff000c00d02401d02403d02d0fd070240"}}},
    {"sequential_data_only", "S 0 20000 1; t 0 20000; t 5 19999; m 0 20000; m 0 20001; D",
     {20000, 19994, -1, 20000, 3, 0, 1, 2},
     3, 20000, 0, 12288,
     {{0, "832081408310"},
      {1, "83208140ff0f02f4"},
      {2, "930ef151ff0302fdff0102fd7f0af4fff000c00d02401d02403d02d0fd070240"}}},
    {"sparse_far", "s 100000 1; D; s 5000000 1; D; s 5000001 1; s 5000000 1; t 0 6000000; m 100000 100002; D; c 98304 8192; c 4997120 8192; c 0 0; c 0 1048576; c 4194304 1048576",
     {1, 1, 12, 1, 2, 609, 610, 1, 0, 3, 100001, 1, 610, 4, 2469082476, 4, 1012263103, 11, 3887082204, 5, 2739063549, 5, 545037709},
     611, 5000008, 0, 2502656,
     {{12, "d1060280a95b02017d02041d0a04000440100d02103d0210fd030240fd070240"},
      {609, "fd6f0204"},
      {610, "a10b02c0d95802047d02013d02040d0a04404000101d0210fd010210fd070240"}}},
    {"noop_set_grows_pages", "s 5000000 0; s 0 1; s 1 1; S 2 64 1; D; m 0 100; D",
     {0, 1, 1, 10, 0, 1, 3, 7, 15, 31, 63, 127, 255, 511, 64, 0},
     611, 64, 0, 2097152,
     {{0, "23e15f0f02f00d02c01d02403d02407d0240fd010240fd030240fd070240"},
      {1, "fd6f0240"},
      {3, "fd6f0240"},
      {7, "fd6f0240"},
      {15, "fd6f0240"},
      {31, "fd6f0240"},
      {63, "fd6f0240"},
      {127, "fd6f0240"},
      {255, "fd6f0240"},
      {511, "fd6f0240"}}},
    {"unsets", "S 0 70000 1; D; S 100 200 0; s 8191 0; s 8192 0; S 16384 24576 0; D; m 0 70000; m 200 70000; t 0 70000; D",
     {9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1, 5, 0, 1, 2, 3, 7, 100, 8191, 61706, 0},
     9, 70000, 0, 36864,
     {{0, "3302f0319b1f02fe81400f0afdfff440d10d0a073f7fff5f3f027f7f027fff01027fff03027dff0302fdff0102fd7f02fd3f02fd1f02fd0f0afdfffdfd57"},
      {1, "027fff1f8140087f7fff7f0f027f1f027f3f027f7f027fff01027fff03027fff070253"},
      {2, "fd6f020f"},
      {3, "83208140ff0f025f"},
      {4, "832081408310"},
      {5, "832081408310"},
      {6, "832081408310"},
      {7, "83208140ff0f0270"},
      {8, "bb11c94eff0702f43f02f40f0afdfffcf0d01d02d07d0240fd010240fd0302d0"}}},
    {"tree_bits", "T 0 1; T 0 1; T 16383 1; T 16384 1; T 40000 1; T 40000 0; D",
     {1, 0, 1, 1, 1, 1, 3, 0, 1, 2},
     3, 0, 40008, 0,
     {{0, "81200280f93f0201"},
      {1, "81200280"}}},
    {"load_then_set", "A 0 10000; F; s 10000 1; s 20000 1; m 0 30000; D; S 5000 5100 0; D",
     {1, 1, 10001, 2, 1, 2, 2, 0, 1},
     3, 20008, 32768, 12288,
     {{0, "c71331020f874c02feff0702f77f02fd3f02fd1f12f5c040004100071fdfff01027fff0302d4"},
      {1, "8b070280f518ff0702feff0302feff0102fe0f02fef131ff0102fd7f02fd3f0af4f4d000400d02401d02d0fd030240fd070254"},
      {2, "910e0280e9550201fd0102017d0a04000440100d02401d02403d0210fd070240"}}},
    {"load_partial_page", "A 0 9000; P 4000; s 9000 1; s 3 0; D",
     {1, 1, 2, 0, 1},
     2, 16384, 32768, 8192,
     {{0, "02effb5f0afe7f7fff7f0f027f1f027f3f027f7f027fff01027fff03027fff070274"},
      {1, "97030280e55d02013d0a04000410100d02401d0210fd010240fd030240fd070250"}}},
    {"load_zero_pages", "s 30000 1; F; s 0 1; S 1 8 1; D",
     {1, 1, 3, 0, 1, 3},
     4, 32768, 65536, 16384,
     {{0, "07fd5f08c04000400d02401d02403d02407d0240fd010240fd030240fd070240"},
      {1, "fd6f0241"},
      {2, "fd6f0201"},
      {3, "99150280e1520204fd0102043d0a04000104100d02401d02107d0210fd030250"}}},
    {"expand_via_total", "S 0 300 1; D; t 0 100000; D; m 0 3000000; D",
     {1, 0, 300, 0, 300, 0},
     1, 304, 0, 4096,
     {{0, "970102f0e95e3f0af4fff4d0d00d02401d02d07d0240fd010240fd030240fd070240"}}},
    {"stale_parent", "S 0 8192 1; s 40000 1; D; m 0 50000; m 0 8193; t 0 50000; S 8192 8300 1; m 0 50000; m 8000 50000; D",
     {1, 2, 0, 4, 8192, 8192, 8193, 8300, 8300, 3, 0, 1, 3},
     5, 40008, 0, 20480,
     {{0, "83208140ff0f02f4"},
      {1, "3702f0c95f0f0afdfff4d0d01d02403d02407d0240fd010240fd030240fd0702d0"},
      {3, "fd6f0240"},
      {4, "a11c0280d94b0201fd030201fd0102040d0a04404000101d02403d02407d0210"}}},
    {"random_small", "R 1 20000 20000; D",
     {1488884487, 2, 0, 2},
     3, 24576, 49152, 12288,
     {{0, "#b3d59a84"},
      {1, "#76ad943e"},
      {2, "#3e8af6b7"}}},
    {"random_medium", "R 7 20000 300000; D; c 0 0; c 0 1048576; c 8192 16384; c 294912 8192",
     {4113717759, 3, 6, 12, 20, 1847, 2924591786, 1847, 2924591786, 115, 1686478436, 37, 4051557372},
     38, 311296, 622592, 155648,
     {{0, "#55e1450a"},
      {1, "#25483bdf"},
      {2, "#e358d743"},
      {3, "#08a252a7"},
      {4, "#aed4039e"},
      {5, "#6f2aaad1"},
      {6, "#c940560f"},
      {7, "#fdf0c2b8"},
      {8, "#9298f091"},
      {9, "#75477db1"},
      {10, "#9af881dd"},
      {11, "#cad7c996"},
      {12, "#67f28872"},
      {13, "#0714fe29"},
      {14, "#ddad118a"},
      {15, "#6bdcf66d"},
      {16, "#440bc8b3"},
      {17, "#bb51ff40"},
      {18, "#ac667756"},
      {19, "#97be46c1"},
      {20, "#fe6fafc0"},
      {21, "#4d20b8e6"},
      {22, "#61af9eb1"},
      {23, "#922cce1e"},
      {24, "#3e01ccc5"},
      {25, "#36d71da6"},
      {26, "#e9867129"},
      {27, "#fdf8749e"},
      {28, "#5f6a3eeb"},
      {29, "#febfd62a"},
      {30, "#a266a55d"},
      {31, "#df313197"},
      {32, "#424e941a"},
      {33, "#ff037734"},
      {34, "#2320509a"},
      {35, "#86a07937"},
      {36, "#18256639"},
      {37, "7b0280855f1f02fd0f0afdfffdf4d03d02407d0240fd010240fd030240fd070250"}}},
    {"random_large", "R 99 3000 1200000; D",
     {3773504300, 21, 0, 2, 5, 6, 10, 17, 34, 35, 36, 45, 66, 68, 71, 79, 80, 94, 103, 123, 125, 128, 132},
     147, 1204224, 2408448, 602112,
     {{0, "#b1be8c63"},
      {1, "af0b02e0b90402019550ff0302f57f02fd3f02f40f0af4fdd000d01d02d17d02013d02011d02010d0a04041000d0fd070255"},
      {2, "#49ce0707"},
      {3, "#b66c538b"},
      {4, "#df212bf6"},
      {5, "#f6bbcb30"},
      {6, "#3d522d46"},
      {7, "f9020201d9050280f9050240c90d0208b1010210c1080201e53a02041d02010d0a01000104103d0210fd0102451d0a04000410100d02103d02407d02417d02041d0a04000440100d02103d0251fd030201fd010a04000101100d02401d02411d0a04000440100d02507d0255"},
      {8, "#99195802"},
      {9, "#3a0f82cb"},
      {10, "89030210dd010240b90202408901027f9b16027fb301f13a0210890602013d0a04041000400d02401d02151d02010d0a04041000103d02413d02040d0a04104000101d02570d0a0100077f1f1f027f3f027f7f027fff01025dff0302fdff0102fd7f02f71f0af7fddfff7f0f02df3f0255"},
      {11, "af090280a10202088d030240a10c0202f90c0210dd0a0280ad0d0280ed1fff0302f53f02f40f0af4fdd000d01d02d13d02011d0a04000440100d02517d02041d02010d0a04404000103d02d1fd0302047d02013d0a04104000400d02401d0210fd010255"},
      {12, "5902083d0280dd13022079022039023faf0602bf9f03f10e0240a9310a04000104100d0a14000104100d02401d02507d0240fd010240fd030245fd0102051d02010d0a01000104111d02010d0a01000410570d0a0100077f1f1f027f3f021dff0102f71f02fd0f0af77f7fffdf3f027f7f0255"},
      {13, "#da190b00"},
      {14, "a904023fc303910602209502024099070201cf08bd390220bd0802050d0a07071fff1f1f027f3f027d3f02fd1f02fd0f0af4fcd00011fd0102043d02011d02010d0a01000101107d0a57000410100d02401d02403d02407d02417d02013d02070d0a0100077f1f1f025fff030255"},
      {15, "#ec456351"},
      {16, "e502021099010208e5010204e502020faf17fd4002041d02010d0a04104000103d0a14404000400d02401d02411d02010d0a04041000507d02571d0a0700077f1f0f021f3f027f7f027fff01025fff070275"},
      {17, "#8747cf2c"},
      {18, "f70c02f0f1020220e9010220b5030202c9070201c9010240d941ff0302fdff0102f51f02fd0f0afdfff4d0d03d02413d02011d02010d0a04041000d53d02011d0a04000410100d02107d02443d0a04011000400d02401d02107d0251fd0102051d0a04000104100d02103d02440d0a04104000101d02403d0255"},
      {19, "f1030202610201cb0102fbc31102fcb5010220b9040208a14302013d02011d02010d0a01000440151d0a0700071f1f0f021f3f02770f0af77f7fffdf1f027f3f025fff030275ff0102fd7f02fd3f02fd1f02fd0f0af4d04000d53d0a04000101100d02401d02107d02443d02011d0a04000104100d02107d0255"},
      {20, "b504020481010240790204e5040240a901021099060202cd2e0204c52002050d0a01000410101d02440d0a01000104101d02540d0a01000410101d02403d02157d02013d0a04000101100d02401d02141d0a04041000400d02103d02407d02547d02041d02010d0a04104000103d0210fd010240fd030255"},
      {21, "e907020489050208a5090240350202d1020201410208a5030201e54402017d02013d02011d02010d0a0404100011fd0102041d02010d0a01000410103d02407d0255fd0102017d0a04000101100d0a44000410100d02503d02153d02050d0a04041000110d0a04011000107d02443d0a04000410100d02401d02107d0255"},
      {22, "#0f60920f"},
      {23, "#83db9db6"},
      {24, "a90502809d06028089030204d10b02010f02fcb5020201894502043d02040d0a04041000101d02107d02157d02013d02011d0a04041000400d02117d02041d0a04000410100d02103d0251fd0302057d02040d0a05071df4101d02403d02141d02010d0a01000440103d02407d0255"},
      {25, "#acedfc25"},
      {26, "#616a5e92"},
      {27, "#ff1dc952"},
      {28, "cd01020faf0304f0405d0210a90404103ffb1002fc85010201eb03bd4002011d0a07011fff7f0f021f7f02741f02fd0f12fdfffdfdd5404000400d02410d0a04404000507d02577d0a0701177f5f0f027f1f027f3f021fff01025dff0302f57f02fd3f0af4fdd000400d02401d0ad700071f1f0f027f1f027f3f027f7f0255"},
      {29, "#d3361f7f"},
      {30, "#c0835dd6"},
      {31, "#ca2e678f"},
      {32, "970902fed1030207df100280b542ff0302f53f0af4fff4d0d00d02401d02d07d02471d02010d0a07071fff1f3f027f7f02ddff0302fdff0102f43f02fd1f0af4f4d000400d02d07d0255"},
      {33, "#67e74575"},
      {34, "090210090220a9010220bd0a0210a9010202a10a0280a1020210c92c0210bd1908041410500d02401d02411d0a04404000400d02507d0240fd010241fd010a04404000400d02401d02440d0a04011000101d02507d0255fd0102017d02013d02011d0a04000440100d02143d02011d02010d0a01000410107d0240fd010257"},
      {35, "210208a102020295010210c9030210d9020202990302080d0203cf128d400a04404000101d02403d02451d0a04104000400d02111d0a04000101100d02517d02013d02040d0a04041000101d02557d0a04104000400d02401d02403d02173d02070d0a0540477f1f1f021f7f025fff070255"},
      {36, "#9c599881"},
      {37, "#ae5e516e"},
      {38, "#eb8d354f"},
      {39, "#30639180"},
      {40, "a903024095010201d1090201dd02020fb70c02fe870102c0c54202013d02040d0a04041000101d02141d0a04404000400d02103d02407d0251fd0102017d0a04000410100d02401d02403d02551d02010d0a0100071f1f3f027f7f027fff01027dff0102f53f02f70f0af7fddfffdf1f02d40f0afdfff4d0d01d02403d0255"},
      {41, "#2a0bcb6e"},
      {42, "#8b28a7e7"},
      {43, "990102086902018d010210d9070201a903020199060240150204e94b0a04000104100d02401d0a15104000400d02401d0a44000410100d02401d0250fd0102457d02041d02010d0a01000440103d02117d0a04000101100d02401d02403d0254fd0102040d120100010414000440100d02503d02407d0210fd030255"},
      {44, "#588211e4"},
      {45, "#5581195c"},
      {46, "#082de2b1"},
      {47, "#fe7296ec"},
      {48, "#8607c607"},
      {49, "#ff03916e"},
      {50, "b70602e0d1020202310201ed03021099030220f90a0204b944ff0102fd7f02f40f0afdfff4d0d01d02403d02d53d120404100041000101501d02107d02443d02040d0a04011000101d02107d02551d0a04041000400d02103d02407d0240fd0102447d02013d02011d0a04104000400d0210fd010257"},
      {51, "9506027fa70502f099010207a713fd4102017d0a0700071f1f0f027f1f027f3f02157f02fd3f02f40f0afdfffdfdd01d02d71d0a070001071f0f021f3f027f7f025fff070255"},
      {52, "eb010280e10504017fb70502f0ad0302031bad0a02043d0201bd443f02fd1f02fd0f0af4f4d000d07d02417d02013d02011d0a0701177f5f0f025dff0102f43f0af4f4d000400d02401d02d07d02550d120100010714fff4c0d00d02503d02407d0240fd0102447d02013d0a05404000400d0a44404000400d0210fd010255"},
      {53, "81010220a508ab0102c0a109024091020240c101020291240220d9240a04404000400d02401d02107d0240fd0102443d02070d0a070f3fff1f1f02141f0af4fff440d00d02d03d0250fd0102547d02013d02011d02010d0a01000410117d0a05041000400d02401d02411d0a04011000400d0250fd030255"},
      {54, "#4b8b957e"},
      {55, "#a492e4b0"},
      {56, "#f8794601"},
      {57, "#3762e89c"},
      {58, "#a005b568"},
      {59, "#13ee8f43"},
      {60, "#10e4d20a"},
      {61, "8d12020f7702c01102408d010202950102032f02c0ed020280f5060b02fca5010220f14602057d0a05011fff7f0f027f1f0a74d04104500d02401d02140d0a04041000101d02411d12057f7fff7dfff440507d02551d02010d0a04404000103d02407d02417d02013d02011d120500030f1440400055"},
      {62, "#033e4a87"},
      {63, "a1050210ad020204e1040280190204f906023fdf0902f0cd4402053d02040d0a04404000101d02113d02011d0a04000440100d0211fd0102040d120100041014000440100d02503d02407d02557d02013d02011d0a07011fff7f0f021fff01027dff0102f43f02f40f0af4fdd000d01d02d07d0255"},
      {64, "d1040240d9030240b1070240ed03027fe70402e0c14902041d0a04000440100d02103d02407d02150d0a04011000101d02403d02407d02417d02013d02011d02010d0a04404000557d02013d02011d0a0700077f1f0f021fff0102740f0afdfffdf4d01d02403d02407d0240fd010255"},
      {65, "b90a0280450210bd020280ed010207f30e02f8d51f0208fd2502057d02050d0a01000104101d0a44404000400d02401d02153d02011d0a04404000400d02113d02070d0a0100077f1f1f021dff0302fdff0102fd7f02f40f0af4d04000d01d02403d0255"},
      {66, "#5165f6db"},
      {67, "#55a7c319"},
      {68, "#7a540627"},
      {69, "#3ce97e92"},
      {70, "#8eb8f92e"},
      {71, "#37cf34f9"},
      {72, "#dfd278f5"},
      {73, "890302027902409d110240c90102409907027fef0102f8bd020201bd3e02013d0a04041000400d02401d0a14104000400d02401d02403d02407d0250fd030245fd0102053d02040d0a04104000101d02141d02010d0a01000440103d0211fd0102017d0a05011fff7f0f027f1f027d1f02fd0f0afdfffdfd55"},
      {74, "9d090204bd04021fbf0502fec5020204f10302209d080204814202053d0a04000101100d02401d02107d02473d02011d0a070001011f0f021f7f02157f02fd3f0af4fffdfdd00d02401d02d43d02011d02010d0a04104000107d02543d02011d0a04000104100d02107d0240fd010255"},
      {75, "#8d9956a7"},
      {76, "#10cdb542"},
      {77, "#cda5b16e"},
      {78, "a1010240dd070203ab0902fecd01022091260204a92602040d0a04404000101d02107d0240fd0102473d0a077f7fff7f0f027f1f021f7f027fff0102547f02f50f0af4fdd000d01d02411d02010d0a01000101d0fd010240fd030255"},
      {79, "d5040203f70b02805502019b0702bf9b0602fba301fd4102071d0a0700071f1f0f021f3f027f7f021fff0302751f0af4fdd000400d02d70d0a071f7fff1f1f025f7f027fff0102751f0af77f7fff7f0f02df3f027f7f027d7f02f71f0af7fffdfddf0f02df3f0255"},
      {80, "cf0302809d08024085040208f9040220b505023fd70581407f02fd3f02fd1f0af4fdd000400d02d0fd0102457d02013d02011d02010d0a04011000117d02013d02011d02010d0a0100041055fd0102041d02010d0a01000440103d02407d02177d02070d0a07071fff1f1f027f3f021fff010255"},
      {81, "#d8b55a62"},
      {82, "#5d1470bb"},
      {83, "#3a7437dd"},
      {84, "#b56c5f82"},
      {85, "ef0402dfb30602fcdd010280e50102019551ff0102f71f02fd0f0af7fddfffdf3f027f7f02d57f02fd3f02f40f0af4404000d01d02d53d0a04404000400d02401d02141d02010d0a04041000103d0250fd070255"},
      {86, "f904020fa30202fd4b02fc99030203db1402f8a5080220f13902051d02010d0a010001071f3f027d3f0af5fffdfddf0f027d0f0af4f4d000177d02013d0a071f7fff7f0f027f1f021fff01025dff0302fdff0102fd7f02fd3f02fd1f02fd0f0af440400055"},
      {87, "#76239519"},
      {88, "#06d3331d"},
      {89, "a5010240d10302087102108501020891130204e5020220b51f0208c5030280bd1c0202890402040d0a04104000101d02107d02451d02010d0a01000104111d02010d0a04011000541d02010d0a01000410103d0250fd030241fd0302057d0a04041000400d02401d02403d02141d02010d0a01000440103d02407d0255"},
      {90, "#865ff166"},
      {91, "#d8b6a2ed"},
      {92, "#d296d6b4"},
      {93, "#df3e1b25"},
      {94, "f70102f08101040410dd040207cb0d02fee9020210e504023f830381403f02fd1f02fd0f0afdfff4d0d41d02010d0a01000105103d02517d02013d02011d0a070001011f0f025fff030275ff0102f43f02f40f0af4f4d000d01d02d07d0ad5000410100d02401d02403d02407d02471d02010d0a010001011f3f027f7f0255"},
      {95, "#460ac05c"},
      {96, "c10302013d027fc70c02fcd5060201fd030208dd270220f91d02013d02011d0a04404000400d0a177f7fff7f0f027f1f027f3f027f7f025fff0302751f0af4f4d000400d02d03d02407d02417d02013d02040d0a04404000101d02547d02013d02040d0a04404000101d0210fd010255"},
      {97, "#0971c344"},
      {98, "a91c0210d14b0201fd030201fd0102040d0a04041000101d02403d02407d0215"},
      {99, "#5e6ad6f1"},
      {100, "#6d39fdb7"},
      {101, "d30302fc810502079f060280350201a1010210f1080220a521020191257f02fd3f02fd1f0af4fff440d00d02d0fd0102451d0a0700071f1f0f021f3f027f7f027d7f02f51f02fd0f0afdfff4d0d40d0a04011000101d02551d0a04000440100d02103d02407d0240fd0102443d02011d0a04104000400d02107d0240fd010255"},
      {102, "#11241fab"},
      {103, "#2c9810ee"},
      {104, "f9050202dd040220c905027fdb0402feed0102400902078309fd4102043d02011d02010d0a01000104107d02147d02041d0a04000104100d02103d0210fd0102570d0a071f7fff1f1f027f3f027f7f02753f0af4404000400d02401d02d71d02010d0a010005411f3f025fff030255"},
      {105, "#6a379b8b"},
      {106, "81120210dd020202c5070208f5070240d9030201fd3f02057d0a04404000400d02401d02403d02141d02010d0a04404000103d02407d0251fd0102040d0a04041000101d02403d02407d0215"},
      {107, "#52bf10d1"},
      {108, "#133099a6"},
      {109, "0d0201bf0f02f0a5010201d5030204890102028908027f0f02f8894208011fff7f0f027f1f027f3f027f7f027fff01027dff0102fd7f02fd3f02fd1f0af4fdd000400d02551d02010d0a01000410103d02407d02441d0a04011000400d02111d0a04000104100d02507d0251fd0102043d02011d02010d0a051f74d0107d0255"},
      {110, "#f94ff3ee"},
      {111, "8105023f9b0302f885010201fd010204e9030201a10e0201cb02fd4102073d0a077f7fff7f0f027f1f021f7f0a15fffdfdd00d02401d02440d0a04104000101d02513d02040d0a04104000101d02517d02013d0a04000440100d02401d0251fd030201fd0102073d02070d0a0100071f1f1f021f7f0255"},
      {112, "#976524b2"},
      {113, "#a4d99141"},
      {114, "#223497eb"},
      {115, "#4ab8ffbd"},
      {116, "8f0202fe81100220f1040220d5010210c1030220650204c9340201a90e7f0af4fdd000400d02401d02403d02d0fd010240fd0302457d0a04000440100d02401d02403d02117d02013d0a04104000400d02401d02551d0a04000101100d02103d02407d02440d0a04404000101d0a44041000400d02401d02507d0255"},
      {117, "#be8de63e"},
      {118, "#5d2f6658"},
      {119, "e30702f0f5040204f5020207a30202f049021fa70202fd970b8140ff0102fd7f02fd3f02fd1f02fd0f0af4404000d1fd0102051d0a04000104100d02103d02413d02011d0a0700077f1f0f02573f02fd1f02fd0f0afdfff4d0d71d0a077f7fff7f0f021f3f02571f02fd0f0af7f7dfffdf3f027f7f025fff030255"},
      {120, "#14aa9e69"},
      {121, "#383c594c"},
      {122, "9505020181020201f9070240e50202089502020289070204d94602053d0a04000410100d02401d02113d0a04000104100d02401d0211fd0102017d02013d0a04000410100d02401d02553d02011d02010d0a01000101107d0a44000410100d02401d02403d02407d02547d02013d02040d0a04404000101d0210fd010255"},
      {123, "#e508bdf8"},
      {124, "a10e020481010220e1070280b1040201690208d1470201fd0102017d02050d0a04404000101d02440d0a04104000101d0215fd0102017d02013d0a04041000400d02401d02157d02013d02040d0a01000101101d02140d0a04041000101d02403d02407d0255"},
      {125, "#27295bb9"},
      {126, "#b9a2ac96"},
      {127, "f5040202910c0210cd060220ad040201f14502041d02010d0a01000410103d02407d0210fd0302453d0a04041000400d02401d02107d02417d02013d02011d0a04000104100d0251fd010a04041000400d02401d02403d02407d0250"},
      {128, "a9010240e9020204810202041d0201a1130240dd4602040d0a04041000101d02107d0a45000410100d02401d02403d124400010411000104501d02403d0250fd030241fd0302043d02011d0a04000101100d02107d0240fd010255"},
      {129, "#643b4302"},
      {130, "#341e5dea"},
      {131, "b50402073302fca5080240e50c0220790204854702040d0a0100071f1d0f0af4f4d000503d02407d0211fd0102043d0a04000440100d02401d02107d0251fd0302043d02011d02010d0a01000104141d02010d0a01000410103d0250fd010255"},
      {132, "#1c253d4d"},
      {133, "95030210790210710208910b0240c5020207df090280b94402013d0a04000410100d02401d0a14000440100d02401d0a44104000400d02401d02507d0250fd030a45000104100d02401d02403d02471d02010d0a077f7fff1f3f025fff01027dff0102f41f0af4404000400d02d03d02407d0255"},
      {134, "#926e6e4d"},
      {135, "#65b09a58"},
      {136, "#b3701fef"},
      {137, "95040280150220a90b0210a9020220190220b1070240850302029d45120400041014011000501d02403d02407d0211fd0102017d02013d02011d0a04000104100d02557d120410400044404000501d02403d0210fd0102453d02011d0a04000410100d02107d02441d0a04000101100d02103d02407d0255"},
      {138, "ed0c028091010240090207d30c6902031b02c095480201fd0102051d02010d0a04011000103d0a47415fff7f0f027f1f027f3f021dff0302f47f02f51f02fc0f02f00d02d11d1205071fff74d04000d0fd010255"},
      {139, "e1090202c90302027502201d0201b5060208e10402079f06e90402048d210280d9120208a50b02053d02011d02010d0a04404000107d02453d02040d0a04011000101d02140d120410400014104000400d02503d0215fd0102041d02010d0a01000101103d02407d02173d02011d02010d0a077f7fff1f7f027fff010255"},
      {140, "df0202fe9d040220e50da30502fbb70502fcc1407f02f41f0af4fffdfdd00d02d03d02d17d02041d02010d0a01000101103d0250fd030245fd0102071d02010d0a073f7fff1f3f027f7f02157f0af7df7fff7f0f027f1f027f3f02dd7f02fd3f02f40f0afdfffdfdd01d0255"},
      {141, "#6a698b2c"},
      {142, "#8895e4d6"},
      {143, "#108db1fb"},
      {144, "#f61b8fcc"},
      {145, "4302bfaf0202e0f504020fe70102df6702fdc706d1010210ad4d1f0af77f7fff7f0f02df3f02741f02fd0f0afdfff440d03d02517d02013d02011d02010d0a07071fff573f02fd1f0af7fff77fdf0f02d70f0afdfffdf7df1f027f3f025fff0102543f02f03d02c41d0a04000440100d02103d0250fd010240fd030254"},
      {146, "0d0240f5010202250208a5020208d105023feb0b02c0950a0220d13f08011000400d02401d02403d124410400044011000501d02403d02541d0a04000410100d02103d02407d02577d02070d0a07071fff1f1f027f3f021fff010254ff0102fd7f0af4fff4d0d00d02401d02403d02d0fd030250"}}},
    {"random_reload", "R 12345 30000 70000; F; R 777 5000 70000; D",
     {1088907093, 2089237019, 4, 1, 3, 4, 6},
     9, 73728, 147456, 36864,
     {{0, "#2d2c78f0"},
      {1, "#69f105c9"},
      {2, "#ef1c6dba"},
      {3, "#e7b6766d"},
      {4, "#fd675064"},
      {5, "#2ea355bd"},
      {6, "#5d298111"},
      {7, "#9b086335"},
      {8, "#ad6a47e2"}}},
};
// clang-format on

std::uint32_t fnv1a(ByteView bytes) {
    std::uint32_t h = 2166136261u;
    for (const auto b : bytes) h = (h ^ b) * 16777619u;
    return h;
}

// hypercore lib/tree-index.js TreeIndex.set: mark a node, then parents while siblings are there.
void tree_index_set(Bitfield& bf, flat::Index index) {
    if (!bf.tree_set(index, true)) return;
    while (bf.tree_get(flat::sibling(index))) {
        index = flat::parent(index);
        if (!bf.tree_set(index, true)) break;
    }
}

std::int64_t js_number(std::optional<std::uint64_t> v) {
    return v ? static_cast<std::int64_t>(*v) : -1;
}

// The C++ twin of Runner in bitfield_fixture.js. `file` is the bitfield file body the dirty pages
// were written to, as hypercore's _syncBitfield writes them.
class Runner {
public:
    Bitfield bf;
    Bytes file;
    std::vector<std::int64_t> results;

    std::vector<std::uint64_t> flush() {
        auto dirty = bf.take_dirty_pages();
        for (const auto p : dirty) {
            const std::size_t end = (p + 1) * kBitfieldPageBytes;
            if (file.size() < end) file.resize(end);
            const ByteView page = bf.page_view(p);
            std::copy(page.begin(), page.end(),
                      file.begin() + static_cast<std::ptrdiff_t>(p * kBitfieldPageBytes));
        }
        return dirty;
    }

    void reload(std::optional<std::size_t> truncate) {
        flush();
        if (truncate) file.resize(*truncate);
        bf = Bitfield(file);
    }

    std::uint32_t random(std::uint32_t seed, std::uint64_t count, std::uint64_t dom) {
        std::uint32_t x = seed;
        auto next = [&x] {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            return x;
        };
        std::uint32_t h = 2166136261u;
        auto fold = [&h](std::int64_t v) { h = (h ^ static_cast<std::uint32_t>(v)) * 16777619u; };
        for (std::uint64_t k = 0; k < count; ++k) {
            const std::uint32_t op = next() % 16;
            if (op < 6) {
                bf.set(next() % dom, true);
            } else if (op < 8) {
                bf.set(next() % dom, false);
            } else if (op == 8) {
                const std::uint64_t s = next() % dom;
                const std::uint64_t n = next() % 4096;
                for (std::uint64_t i = s; i < s + n; ++i) bf.set(i, true);
            } else if (op == 9) {
                const std::uint64_t s = next() % dom;
                const std::uint64_t n = next() % 1024;
                for (std::uint64_t i = s; i < s + n; ++i) bf.set(i, false);
            } else if (op == 10) {
                const std::uint64_t i = next() % (2 * dom);
                fold(bf.tree_set(i, (next() & 1) == 1) ? 1 : 0);
            } else if (op == 11) {
                const std::uint64_t s = next() % dom;
                const std::uint64_t e = s + next() % dom;
                fold(e == 0 ? 0 : static_cast<std::int64_t>(bf.total(s, e)));
            } else if (op < 14) {
                const std::uint64_t s = next() % dom;
                const std::uint64_t e = s + next() % dom;
                fold(e == 0 ? -1 : js_number(bf.next_missing(s, e)));
            } else if (op == 14) {
                for (const auto p : flush()) fold(static_cast<std::int64_t>(p));
            } else if (next() % 8 == 0) {
                reload(std::nullopt);
            }
        }
        return h;
    }

    void run(std::string_view ops) {
        while (!ops.empty()) {
            const auto semi = ops.find(';');
            std::string op(ops.substr(0, semi));
            ops = semi == std::string_view::npos ? std::string_view{} : ops.substr(semi + 1);
            std::vector<std::uint64_t> n;
            char c = 0;
            std::size_t pos = 0;
            while (pos < op.size()) {
                while (pos < op.size() && op[pos] == ' ') ++pos;
                if (pos == op.size()) break;
                const auto end = std::min(op.find(' ', pos), op.size());
                const std::string token = op.substr(pos, end - pos);
                if (!c) {
                    c = token[0];
                } else {
                    n.push_back(std::stoull(token));
                }
                pos = end;
            }
            switch (c) {
                case 'S':
                    for (auto i = n[0]; i < n[1]; ++i) bf.set(i, n[2] == 1);
                    break;
                case 's': results.push_back(bf.set(n[0], n[1] == 1) ? 1 : 0); break;
                case 'A':
                    for (auto i = n[0]; i < n[1]; ++i) {
                        bf.set(i, true);
                        tree_index_set(bf, 2 * i);
                    }
                    break;
                case 'T': results.push_back(bf.tree_set(n[0], n[1] == 1) ? 1 : 0); break;
                case 't': results.push_back(static_cast<std::int64_t>(bf.total(n[0], n[1]))); break;
                case 'm': results.push_back(js_number(bf.next_missing(n[0], n[1]))); break;
                case 'D': {
                    const auto dirty = flush();
                    results.push_back(static_cast<std::int64_t>(dirty.size()));
                    for (const auto p : dirty) results.push_back(static_cast<std::int64_t>(p));
                    break;
                }
                case 'F': reload(std::nullopt); break;
                case 'P': reload(n[0]); break;
                case 'c': {
                    const Bytes enc = bf.compress(n[0], n[1]);
                    results.push_back(static_cast<std::int64_t>(enc.size()));
                    results.push_back(fnv1a(enc));
                    break;
                }
                case 'R':
                    results.push_back(random(static_cast<std::uint32_t>(n[0]), n[1], n[2]));
                    break;
                default: FAIL() << "bad op " << op;
            }
        }
    }
};

void expect_page(const Bitfield& bf, std::uint64_t p, const char* expected) {
    const ByteView page = bf.page_view(p);
    ASSERT_EQ(page.size(), kBitfieldPageBytes);
    if (expected[0] == '#') {
        EXPECT_EQ(fnv1a(page), std::stoul(expected + 1, nullptr, 16)) << "page " << p;
        return;
    }
    const auto encoded = from_hex(expected);
    ASSERT_TRUE(encoded.has_value());
    auto decoded = rle_decode(*encoded, kBitfieldPageBytes);
    ASSERT_TRUE(decoded.ok());
    Bytes want = std::move(decoded).value();
    want.resize(kBitfieldPageBytes);
    for (std::size_t i = 0; i < kBitfieldPageBytes; ++i) {
        if (page[i] != want[i]) {
            ADD_FAILURE() << "page " << p << " first differs at byte " << i << ": got "
                          << int{page[i]} << ", JS has " << int{want[i]};
            return;
        }
    }
}

TEST(Bitfield, MatchesJsFixtures) {
    for (const auto& f : kFixtures) {
        SCOPED_TRACE(f.name);
        Runner r;
        r.run(f.ops);
        EXPECT_EQ(r.results, f.results);
        EXPECT_EQ(r.bf.page_count(), f.page_count);
        EXPECT_EQ(r.bf.length(), f.length);
        EXPECT_EQ(r.bf.tree_length(), f.tree_length);
        EXPECT_EQ(r.bf.index_length(), f.index_length);
        std::size_t next = 0;
        for (std::uint64_t p = 0; p < f.page_count; ++p) {
            if (next < f.pages.size() && f.pages[next].page == p) {
                expect_page(r.bf, p, f.pages[next++].bytes);
            } else {
                EXPECT_TRUE(all_zero(r.bf.page_view(p))) << "page " << p << " should be zero";
            }
        }
        EXPECT_EQ(next, f.pages.size());
        EXPECT_TRUE(all_zero(r.bf.page_view(f.page_count)));
    }
}

// ---------------------------------------------------------------------------------------------
// Focused checks
// ---------------------------------------------------------------------------------------------

TEST(Bitfield, ReferenceCheckedExampleThreeBlocks) {
    Bitfield bf;
    for (std::uint64_t i = 0; i < 3; ++i) {
        EXPECT_TRUE(bf.set(i, true));
        tree_index_set(bf, 2 * i);
    }
    const auto page = bf.page(0);
    EXPECT_EQ(page[0], 0xe0);
    EXPECT_EQ(page[kBitfieldTreeOffset], 0xe8);  // nodes 0, 1, 2, 4
    EXPECT_EQ(page[kBitfieldTreeOffset + 1], 0x00);
    EXPECT_EQ(to_hex(ByteView(page).subspan(kBitfieldIndexOffset, 4)), "40400040");
    EXPECT_EQ(bf.length(), 8u);
    EXPECT_EQ(bf.page_count(), 1u);
    EXPECT_EQ(bf.take_dirty_pages(), std::vector<std::uint64_t>{0});
    EXPECT_TRUE(bf.take_dirty_pages().empty());
}

TEST(Bitfield, SetReportsChangesAndUnchangedWritesOnlyGrowPageCount) {
    Bitfield bf;
    EXPECT_FALSE(bf.set(100000, false));  // JS: allocates page 12, changes nothing
    EXPECT_EQ(bf.page_count(), 13u);
    EXPECT_EQ(bf.length(), 0u);
    EXPECT_TRUE(bf.take_dirty_pages().empty());
    EXPECT_TRUE(bf.set(100000, true));
    EXPECT_FALSE(bf.set(100000, true));
    EXPECT_TRUE(bf.get(100000));
    EXPECT_FALSE(bf.get(100001));
    EXPECT_EQ(bf.length(), 8 * (100000 / 8 + 1));
    EXPECT_TRUE(bf.set(100000, false));
    EXPECT_FALSE(bf.get(100000));
    // The page stays dirty (and allocated) even though it is back to its old bytes, as in JS.
    EXPECT_FALSE(bf.take_dirty_pages().empty());
    EXPECT_FALSE(bf.tree_set(5, false));
    EXPECT_TRUE(bf.tree_set(5, true));
    EXPECT_TRUE(bf.tree_get(5));
    EXPECT_EQ(bf.tree_length(), 8u);
}

TEST(Bitfield, LoadMarksNothingDirtyAndKeepsBytes) {
    Runner r;
    r.run("A 0 20000; D");
    const Bytes file = r.file;
    Bitfield loaded(file);
    EXPECT_TRUE(loaded.take_dirty_pages().empty());
    EXPECT_EQ(loaded.page_count(), file.size() / kBitfieldPageBytes);
    EXPECT_EQ(loaded.length(), loaded.page_count() * 8 * kBitfieldDataBytes);
    for (std::uint64_t p = 0; p < loaded.page_count(); ++p) {
        const auto page = loaded.page(p);
        EXPECT_TRUE(std::equal(page.begin(), page.end(),
                               file.begin() + static_cast<std::ptrdiff_t>(p * kBitfieldPageBytes)));
    }
    for (std::uint64_t i = 0; i < 20010; ++i) ASSERT_EQ(loaded.get(i), i < 20000) << i;
    EXPECT_EQ(loaded.total(0, 30000), 20000u);
    EXPECT_EQ(loaded.next_missing(0, 30000), 20000u);
}

TEST(Bitfield, LoadZeroPadsAPartialTrailingPageAndCountsZeroPages) {
    Bytes file(2 * kBitfieldPageBytes + 10);
    file[2 * kBitfieldPageBytes] = 0x80;  // block 16384
    Bitfield bf(file);
    EXPECT_EQ(bf.page_count(), 3u);
    EXPECT_TRUE(bf.get(16384));
    EXPECT_EQ(bf.next_present(0, 1u << 20), 16384u);
    EXPECT_TRUE(all_zero(ByteView(bf.page(2)).subspan(10)));
    EXPECT_TRUE(all_zero(bf.page_view(0)));
}

TEST(Bitfield, FarPagesAreSparseAndFast) {
    Bitfield bf;
    const std::uint64_t far = std::uint64_t{1} << 40;  // page 2^27, past the dense table
    EXPECT_TRUE(bf.set(far + 5, true));
    EXPECT_TRUE(bf.set(7, true));
    EXPECT_TRUE(bf.get(far + 5));
    EXPECT_FALSE(bf.get(far + 4));
    EXPECT_EQ(bf.page_count(), far / kBlocksPerBitfieldPage + 1);
    EXPECT_EQ(bf.next_present(8, far * 2), far + 5);
    EXPECT_EQ(bf.next_present(0, far * 2), 7u);
    EXPECT_EQ(bf.next_present(far + 6, far * 2), std::nullopt);
    EXPECT_EQ(bf.total(0, far * 2), 2u);
    EXPECT_EQ(bf.next_missing(far + 5, far + 100), far + 6);
    EXPECT_EQ(bf.next_missing(0, far * 2), 0u);
    EXPECT_TRUE(all_zero(bf.page_view(far / kBlocksPerBitfieldPage - 2)));
    // As JS (checked with node): the far block's index climb stops at maxLength inside its own
    // page; block 7's climb then runs up to index node 2^36 - 1, one page per level.
    std::vector<std::uint64_t> want{0};
    for (int k = 1; k <= 27; ++k) want.push_back((std::uint64_t{1} << k) - 1);
    want.push_back(far / kBlocksPerBitfieldPage);
    EXPECT_EQ(bf.take_dirty_pages(), want);
    // Compress clamps to the data held instead of allocating the requested range.
    EXPECT_FALSE(bf.compress(far, std::uint64_t{1} << 50).empty());
}

TEST(Bitfield, NextPresentAcrossWordsAndPages) {
    Bitfield bf;
    const std::uint64_t blocks[] = {0, 63, 64, 65, 8191, 8192, 9000, 3 * 8192 + 4095};
    for (const auto b : blocks) bf.set(b, true);
    for (std::uint64_t start = 0; start < 4 * 8192; start += 97) {
        std::optional<std::uint64_t> want;
        for (const auto b : blocks) {
            if (b >= start) {
                want = b;
                break;
            }
        }
        EXPECT_EQ(bf.next_present(start, 4 * 8192), want) << start;
        if (want) {
            EXPECT_EQ(bf.next_present(start, *want), std::nullopt);
            EXPECT_EQ(bf.next_present(start, *want + 1), want);
        }
    }
    EXPECT_EQ(bf.next_present(5, 5), std::nullopt);
    EXPECT_EQ(bf.next_present(10, 3), std::nullopt);
}

TEST(Bitfield, DataBytesAndCompress) {
    Bitfield bf;
    for (std::uint64_t i = 8192; i < 8192 + 20; ++i) bf.set(i, true);
    bf.set(3 * 8192 + 1, true);
    EXPECT_EQ(to_hex(bf.data_bytes(8192 - 16, 64)), "0000fffff0000000");
    EXPECT_EQ(to_hex(bf.data_bytes(8192, 3)), "ff");  // whole bytes, as JS Buffer.copy
    EXPECT_TRUE(bf.data_bytes(0, 0).empty());
    EXPECT_EQ(bf.data_bytes(0, 4 * 8192).size(), 4096u);
    EXPECT_EQ(bf.compress(8192, 8192), rle_encode(bf.data_bytes(8192, 8192)));
    EXPECT_EQ(bf.compress(0, 0), rle_encode(bf.data_bytes(0, bf.length())));
    EXPECT_EQ(bf.compress(0, 1 << 20), bf.compress(0, 0));
    EXPECT_TRUE(bf.compress(1 << 20, 8192).empty());
    auto decoded = rle_decode(bf.compress(8192, 3 * 8192), 1 << 20);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(to_hex(ByteView(*decoded).first(4)), "fffff000");
    EXPECT_EQ((*decoded)[2048], 0x40);
}

// ---------------------------------------------------------------------------------------------
// Model tests: seeded random operations against a std::vector<bool>.
// ---------------------------------------------------------------------------------------------

class Model {
public:
    explicit Model(std::uint64_t domain) : m_bits(domain) {}
    void set(std::uint64_t i, bool v) { m_bits[i] = v; }
    bool get(std::uint64_t i) const { return i < m_bits.size() && m_bits[i]; }
    std::optional<std::uint64_t> next_missing(std::uint64_t s, std::uint64_t e) const {
        for (auto i = s; i < e; ++i) {
            if (!get(i)) return i;
        }
        return std::nullopt;
    }
    std::optional<std::uint64_t> next_present(std::uint64_t s, std::uint64_t e) const {
        for (auto i = s; i < std::min<std::uint64_t>(e, m_bits.size()); ++i) {
            if (m_bits[i]) return i;
        }
        return std::nullopt;
    }
    std::uint64_t total(std::uint64_t s, std::uint64_t e) const {
        std::uint64_t n = 0;
        for (auto i = s; i < std::min<std::uint64_t>(e, m_bits.size()); ++i) n += m_bits[i];
        return n;
    }

private:
    std::vector<bool> m_bits;
};

void run_model(std::uint32_t seed, std::uint64_t domain, int ops) {
    SCOPED_TRACE("seed " + std::to_string(seed) + " domain " + std::to_string(domain));
    std::mt19937_64 rng(seed);
    auto below = [&rng](std::uint64_t n) { return n ? rng() % n : 0; };
    Model model(domain + 100000);
    Runner r;
    for (int k = 0; k < ops; ++k) {
        const auto op = below(20);
        if (op < 6) {
            const auto i = below(domain);
            const bool v = below(4) != 0;
            const bool changed = model.get(i) != v;
            ASSERT_EQ(r.bf.set(i, v), changed) << i;
            model.set(i, v);
        } else if (op < 8) {  // runs make full bytes and full index subtrees
            const auto s = below(domain);
            const auto n = below(op == 6 ? 40000 : 3000);
            const bool v = op == 6;
            for (auto i = s; i < std::min(s + n, domain); ++i) {
                r.bf.set(i, v);
                model.set(i, v);
            }
        } else if (op < 12) {
            const auto s = below(domain);
            const auto e = s + below(op < 10 ? 64 : 60000);
            ASSERT_EQ(r.bf.next_missing(s, e), model.next_missing(s, e)) << s << " " << e;
        } else if (op < 15) {
            const auto s = below(domain);
            const auto e = s + below(op < 13 ? 64 : 60000);
            ASSERT_EQ(r.bf.next_present(s, e), model.next_present(s, e)) << s << " " << e;
        } else if (op < 17) {
            const auto s = below(domain);
            const auto e = s + below(op < 16 ? 100 : 60000);
            ASSERT_EQ(r.bf.total(s, e), model.total(s, e)) << s << " " << e;
        } else if (op == 17) {
            const auto i = below(domain);
            ASSERT_EQ(r.bf.get(i), model.get(i)) << i;
        } else if (op == 18) {
            r.flush();
        } else if (below(10) == 0) {
            r.reload(std::nullopt);  // the persisted pages must carry every bit
        }
    }
    r.reload(std::nullopt);
    for (std::uint64_t i = 0; i < domain; ++i) ASSERT_EQ(r.bf.get(i), model.get(i)) << i;
    ASSERT_EQ(r.bf.total(0, domain), model.total(0, domain));
}

TEST(Bitfield, MatchesModelSmallDomain) { run_model(1, 3000, 20000); }
TEST(Bitfield, MatchesModelAcrossPages) { run_model(2, 200000, 6000); }
TEST(Bitfield, MatchesModelManyPages) { run_model(3, 1500000, 3000); }

TEST(Bitfield, NextMissingInsideLongFullRuns) {
    // Full index subtrees make _skipAhead climb and descend; check every start near the edges.
    Bitfield bf;
    Model model(300000);
    auto fill = [&](std::uint64_t a, std::uint64_t b, bool v) {
        for (auto i = a; i < b; ++i) {
            bf.set(i, v);
            model.set(i, v);
        }
    };
    fill(0, 100000, true);
    fill(100001, 250000, true);
    fill(131072, 131073, false);
    fill(200000, 200008, false);
    const std::uint64_t edges[] = {0,      8191,   8192,   65535,  65536,  99999,  100000, 100001,
                                   131071, 131072, 131073, 199999, 200000, 200008, 249999, 250000};
    for (const auto a : edges) {
        for (std::uint64_t d = 0; d < 40; d += 7) {
            const auto s = a >= d ? a - d : 0;
            for (const std::uint64_t e : {s + 1, s + 50, s + 40000, std::uint64_t{300000}}) {
                ASSERT_EQ(bf.next_missing(s, e), model.next_missing(s, e)) << s << " " << e;
            }
        }
    }
}

}  // namespace
}  // namespace hs::hypercore

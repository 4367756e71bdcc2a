package shortener

import (
	"math"
	"strings"
	"testing"
)

func TestEncodeDecode(t *testing.T) {
	cases := []struct {
		v    uint64
		n    int
		want string
	}{
		{0, 7, "0000000"},
		{61, 2, "0z"},
		{62, 2, "10"},
		{1_000_000_000, 6, "15ftgG"}, // the lesson's worked example
		{space(7) - 1, 7, "zzzzzzz"},
	}
	for _, c := range cases {
		if got := encode(c.v, c.n); got != c.want {
			t.Errorf("encode(%d, %d) = %q, want %q", c.v, c.n, got, c.want)
		}
		if v, ok := decode(c.want); !ok || v != c.v {
			t.Errorf("decode(%q) = %d, %v", c.want, v, ok)
		}
	}
	for _, bad := range []string{"", "ab-c", "é", strings.Repeat("z", 12)} {
		if _, ok := decode(bad); ok {
			t.Errorf("decode(%q) accepted", bad)
		}
	}
	if space(2) != 3844 || space(7) != 3521614606208 || space(10) > math.MaxInt64 {
		t.Errorf("space: %d %d %d", space(2), space(7), space(10))
	}
}

func TestGeneratedCodes(t *testing.T) {
	for n := 2; n <= 10; n++ {
		r := randomCode(n)
		h := hashCode("https://example.org/a", 0, n)
		if len(r) != n || !isBase62(r) || len(h) != n || !isBase62(h) {
			t.Errorf("length %d: random %q, hash %q", n, r, h)
		}
	}
	if hashCode("https://example.org/a", 0, 7) != hashCode("https://example.org/a", 0, 7) {
		t.Error("hash_prefix is not deterministic")
	}
	if hashCode("https://example.org/a", 0, 7) == hashCode("https://example.org/a", 1, 7) {
		t.Error("a salted attempt gives the same code")
	}
	// Random codes use the whole alphabet about evenly.
	seen := map[byte]int{}
	for range 2000 {
		for _, c := range []byte(randomCode(10)) {
			seen[c]++
		}
	}
	for i := 0; i < len(alphabet); i++ {
		if n := seen[alphabet[i]]; n < 200 || n > 450 { // expected 322.6
			t.Errorf("%q drawn %d times in 20,000", alphabet[i], n)
		}
	}
}

// Consecutive counter codes spread over every shard, and consistent hashing
// moves only what the new shard takes over.
func TestLayouts(t *testing.T) {
	codes := make([]string, 20000)
	for i := range codes {
		codes[i] = encode(uint64(i), 7)
	}
	for _, scheme := range []string{ShardModulo, ShardConsistent} {
		l := newLayout(4, scheme)
		per := make([]int, 4)
		for _, c := range codes {
			per[l.shardOf(c)]++
		}
		for s, n := range per {
			if n < 3500 || n > 6500 { // fair share 5,000
				t.Errorf("%s: shard %d holds %d of 20,000", scheme, s, n)
			}
		}
	}
	moved := func(a, b layout) (n int) {
		for _, c := range codes {
			sa, sb := a.shardOf(c), b.shardOf(c)
			if sa != sb {
				n++
				if a.sharding == ShardConsistent && b.sharding == ShardConsistent && b.shards > a.shards && sb < a.shards {
					t.Fatalf("consistent hashing moved %s between old shards %d → %d", c, sa, sb)
				}
			}
		}
		return n
	}
	cases := []struct {
		from, to layout
		lo, hi   float64
	}{
		{newLayout(4, ShardModulo), newLayout(5, ShardModulo), 0.75, 0.85},
		{newLayout(4, ShardConsistent), newLayout(5, ShardConsistent), 0.12, 0.28},
		{newLayout(8, ShardConsistent), newLayout(4, ShardConsistent), 0.40, 0.60},
		{newLayout(4, ShardModulo), newLayout(8, ShardModulo), 0.45, 0.55},
	}
	for _, c := range cases {
		got := float64(moved(c.from, c.to)) / float64(len(codes))
		exp := expectedMove(c.from, c.to)
		if got < c.lo || got > c.hi || math.Abs(got-exp) > 0.08 {
			t.Errorf("%d %s → %d %s moved %.3f (expected %.3f)", c.from.shards, c.from.sharding, c.to.shards, c.to.sharding, got, exp)
		}
	}
	if e := expectedMove(newLayout(4, ShardModulo), newLayout(5, ShardModulo)); math.Abs(e-0.8) > 1e-9 {
		t.Errorf("modulo 4 → 5 expected %.3f, want 0.8", e)
	}
}

func TestEntryEncoding(t *testing.T) {
	for _, e := range []entry{{}, {found: true, url: "https://a.example/x|y?z=1", expiresMS: 0}, {found: true, url: "http://b.example", expiresMS: 1700000000000}} {
		got, until, ok := decodeEntry(encodeEntry(e, 1700000000123))
		if !ok || got != e || until != 1700000000123 {
			t.Errorf("%+v came back as %+v until %d (%v)", e, got, until, ok)
		}
	}
	// Values written before entries carried their cached-until time are
	// undecodable, so a lookup reads the database and overwrites them.
	for _, bad := range []string{"", "0", "1", "1|x|u", "2|0|u", "1|5", "1|5|u", "1|0|https://a.example/x", "0|x"} {
		if _, _, ok := decodeEntry(bad); ok {
			t.Errorf("decodeEntry(%q) accepted", bad)
		}
	}
}

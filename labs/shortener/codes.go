package shortener

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"hash/fnv"
	"io"
	"math/bits"
	mrand "math/rand/v2"
	"sort"
	"strconv"
	"sync"

	"github.com/sdworkbook/workbook/labs"
)

// alphabet is base62: URL-safe and case-sensitive.
const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// space is how many codes of length n there are: 62^n (n ≤ 10 fits in 63 bits).
func space(n int) uint64 {
	s := uint64(1)
	for range n {
		s *= 62
	}
	return s
}

// encode writes v in base62 with exactly n digits, most significant first;
// v must be below 62^n.
func encode(v uint64, n int) string {
	b := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		b[i] = alphabet[v%62]
		v /= 62
	}
	return string(b)
}

// decode is encode's inverse; ok is false for a character outside base62
// or a value that does not fit in 64 bits.
func decode(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		d := digitOf(s[i])
		if d < 0 {
			return 0, false
		}
		hi, lo := bits.Mul64(v, 62)
		lo, carry := bits.Add64(lo, uint64(d), 0)
		if hi != 0 || carry != 0 {
			return 0, false
		}
		v = lo
	}
	return v, true
}

func digitOf(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'Z':
		return int(c-'A') + 10
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 36
	}
	return -1
}

// isBase62 reports whether every byte of s is in the alphabet.
func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		if digitOf(s[i]) < 0 {
			return false
		}
	}
	return true
}

// randomCode draws n base62 characters from the system's cryptographic
// source: a byte below 248 (4 × 62) maps evenly, the rest are drawn again.
func randomCode(n int) string { return randomCodeFrom(rand.Reader, n) }

// codeSource is where an instance draws random codes from: the system's
// cryptographic source, or, for an instance a check suite starts afresh on
// its own clock, a generator with a fixed seed, so the same design gets the
// same demo links' codes at every grading (which codes share a near-cache
// stripe or a shard then never changes a verdict).
type codeSource struct {
	mu     sync.Mutex
	seeded *mrand.ChaCha8 // nil: the cryptographic source
}

// suiteCodeSeed seeds the codes of instances on a check suite's clock.
var suiteCodeSeed = [32]byte{'s', 'h', 'o', 'r', 't', 'e', 'n', 'e', 'r'}

func newCodeSource(env labs.Env) *codeSource {
	switch env.Clocked().(type) {
	case labs.RealClock, *labs.RealClock:
		return &codeSource{}
	}
	return &codeSource{seeded: mrand.NewChaCha8(suiteCodeSeed)}
}

// code draws a random code of n characters.
func (c *codeSource) code(n int) string {
	if c == nil || c.seeded == nil {
		return randomCode(n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return randomCodeFrom(c.seeded, n)
}

func randomCodeFrom(src io.Reader, n int) string {
	out := make([]byte, 0, n)
	var buf [16]byte
	for len(out) < n {
		_, _ = io.ReadFull(src, buf[:]) // neither source fails (crypto/rand: Go ≥ 1.24)
		for _, b := range buf {
			if b < 248 && len(out) < n {
				out = append(out, alphabet[b%62])
			}
		}
	}
	return string(out)
}

// hashCode is the hash-prefix code of url: SHA-256 of the URL (with a salt
// from the second attempt on, which is how a collision is resolved), its
// first 128 bits reduced modulo 62^n and written in n digits. Reducing 128
// bits leaves no visible bias, unlike cutting a base62 string short.
func hashCode(url string, attempt, n int) string {
	in := url
	if attempt > 0 {
		in = url + "#" + strconv.Itoa(attempt)
	}
	sum := sha256.Sum256([]byte(in))
	hi, lo := binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:16])
	return encode(bits.Rem64(hi, lo, space(n)), n)
}

// keyHash places a code for sharding: FNV-1a, then a SplitMix64 finisher so
// that codes differing only in their last character (a counter's) spread
// over every shard instead of cycling through them.
func keyHash(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s)) // hash.Hash.Write never fails
	return mix64(h.Sum64())
}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

type ringPoint struct {
	h     uint64
	shard int
}

// layout is where codes live: shards tables, chosen by sharding.
type layout struct {
	shards   int
	sharding string
	vnodes   int         // consistent_hash only: ring points per shard
	ring     []ringPoint // consistent_hash only
}

// newLayout is a layout with the default ring: with 128 points per shard
// the largest of 4 shards holds about 1.1 × its fair share, and adding a
// shard takes a little from every other.
func newLayout(shards int, sharding string) layout {
	return newRingLayout(shards, sharding, defaultVnodes)
}

// newRingLayout is a layout whose ring has vnodes points per shard.
func newRingLayout(shards int, sharding string, vnodes int) layout {
	l := layout{shards: shards, sharding: sharding}
	if sharding == ShardConsistent {
		l.vnodes = vnodes
		l.ring = make([]ringPoint, 0, shards*vnodes)
		for s := range shards {
			for v := range vnodes {
				// A point depends only on its shard and its number, so a new
				// shard adds points and moves nothing between the old ones.
				l.ring = append(l.ring, ringPoint{h: keyHash("shard-" + strconv.Itoa(s) + "-" + strconv.Itoa(v)), shard: s})
			}
		}
		sort.Slice(l.ring, func(i, j int) bool { return l.ring[i].h < l.ring[j].h })
	}
	return l
}

// shardOf is the shard that owns code: hash mod shards, or the first ring
// point clockwise from the code's hash.
func (l layout) shardOf(code string) int {
	h := keyHash(code)
	if l.sharding != ShardConsistent {
		return int(h % uint64(l.shards))
	}
	i := sort.Search(len(l.ring), func(i int) bool { return l.ring[i].h >= h })
	if i == len(l.ring) {
		i = 0
	}
	return l.ring[i].shard
}

// ringShares is each shard's share of the hash space, as a multiple of
// its fair share (1 is exactly 1/shards): the arcs its ring points end,
// or 1 each under modulo. Links spread as these shares say, give or take
// the chance of their random codes.
func (l layout) ringShares() []float64 {
	out := make([]float64, l.shards)
	if l.sharding != ShardConsistent || len(l.ring) == 0 {
		for i := range out {
			out[i] = 1
		}
		return out
	}
	const space = 18446744073709551616.0 // 2^64
	for i, p := range l.ring {
		prev := l.ring[len(l.ring)-1].h // the arc wrapping past zero
		if i > 0 {
			prev = l.ring[i-1].h
		}
		out[p.shard] += float64(p.h-prev) / space // unsigned wrap-around gives the arc
	}
	for i := range out {
		out[i] *= float64(l.shards)
	}
	return out
}

// expectedMove is the share of keys a move from l to m should relocate:
// exact for modulo (the share of hash residues whose shard changes), the
// arc the new or removed shards cover for consistent hashing, and "most"
// (1 − 1/m.shards) when the scheme itself changes.
func expectedMove(l, m layout) float64 {
	switch {
	case l.sharding != m.sharding:
		return 1 - 1/float64(m.shards)
	case l.shards == m.shards:
		return 0
	case l.sharding == ShardModulo:
		lcm := l.shards * m.shards / gcd(l.shards, m.shards)
		stay := 0
		for r := range lcm {
			if r%l.shards == r%m.shards {
				stay++
			}
		}
		return 1 - float64(stay)/float64(lcm)
	case m.shards > l.shards:
		return float64(m.shards-l.shards) / float64(m.shards)
	default:
		return float64(l.shards-m.shards) / float64(l.shards)
	}
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

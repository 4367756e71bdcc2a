// Package auth holds the account rules: credential parsing, password hashing
// with argon2id, session tokens, and login throttling.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters (OWASP's minimum profile: 19 MiB, 2 passes, 1 lane).
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
)

// ErrBusy means the password hasher is at capacity: every slot is hashing
// and the waiting line is full. Callers answer "try again in a moment"
// instead of queueing, so a flood of logins or registrations cannot make
// every other login slow.
var ErrBusy = errors.New("auth: password hashing is at capacity")

// Params are the argon2id cost parameters a Hasher makes new hashes with.
// Verification always uses the parameters stored in the hash.
type Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultParams are the parameters every server hashes with.
var DefaultParams = Params{MemoryKiB: argonMemoryKiB, Time: argonTime, Threads: argonThreads}

// Hasher hashes and verifies passwords with a bounded number of hashes
// running at once and a bounded number waiting for a turn.
type Hasher struct {
	running chan struct{} // a token per hash in progress
	places  chan struct{} // a token per hash in progress or waiting
	params  Params
	dummy   string // a hash with params, for VerifyNothing
	// OnHash, when set, runs in a slot just before each hash. Tests use it
	// to count the passwords checked and to hold slots.
	OnHash func()
}

// NewHasher allows running hashes at once and waiting more in line, and
// hashes with DefaultParams.
func NewHasher(running, waiting int) *Hasher {
	return NewHasherWith(running, waiting, DefaultParams)
}

// NewHasherWith is NewHasher with other cost parameters. Only tests use
// cheaper ones: under the race detector one default hash takes most of a
// second, and a test suite makes thousands.
func NewHasherWith(running, waiting int, p Params) *Hasher {
	running = max(running, 1)
	h := &Hasher{running: make(chan struct{}, running), places: make(chan struct{}, running+max(waiting, 0)), params: p}
	h.dummy = h.encode(p, make([]byte, argonSaltLen), argon2.IDKey([]byte("not a real password, only for timing"),
		make([]byte, argonSaltLen), p.Time, p.MemoryKiB, p.Threads, argonKeyLen))
	return h
}

// Default sizes. Each hash keeps one core busy for about 30-60 ms and holds
// 19 MiB, so running more hashes than there are cores only makes each one
// slower (on 2 cores: 2 at once, 38 MiB). The line is 4 hashes per core:
// whoever joins it waits at most about 4 hash times (~200 ms) behind
// others, which a person barely notices; a longer line would only turn a
// flood into seconds of delay for everyone, so beyond it the answer is 503.
var defaultHasher = NewHasher(runtime.GOMAXPROCS(0), 4*runtime.GOMAXPROCS(0))

// DefaultHasher is the process-wide hasher, sized for the machine's cores.
func DefaultHasher() *Hasher { return defaultHasher }

func (h *Hasher) idKey(password, salt []byte, t, m uint32, p uint8, n uint32) ([]byte, error) {
	select {
	case h.places <- struct{}{}:
	default:
		return nil, ErrBusy
	}
	defer func() { <-h.places }()
	h.running <- struct{}{}
	defer func() { <-h.running }()
	if h.OnHash != nil {
		h.OnHash()
	}
	return argon2.IDKey(password, salt, t, m, p, n), nil
}

// HashPassword hashes with the default hasher; see Hasher.Hash.
func HashPassword(password string) (string, error) { return defaultHasher.Hash(password) }

// VerifyPassword verifies with the default hasher; see Hasher.Verify.
func VerifyPassword(hash, password string) (bool, error) { return defaultHasher.Verify(hash, password) }

// Hash returns a PHC-format argon2id hash with a fresh random salt, or
// ErrBusy when the hasher is at capacity.
func (h *Hasher) Hash(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	p := h.params
	key, err := h.idKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, argonKeyLen)
	if err != nil {
		return "", err
	}
	return h.encode(p, salt, key), nil
}

// encode writes a hash in the PHC string format.
func (h *Hasher) encode(p Params, salt, key []byte) string {
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, enc.EncodeToString(salt), enc.EncodeToString(key))
}

var errBadHash = errors.New("auth: malformed password hash")

// Verify reports whether password matches hash, comparing in constant
// time. The parameters stored in the hash are used, so hashes made with
// older settings keep working. It returns ErrBusy when the hasher is at
// capacity.
func (h *Hasher) Verify(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<20 || t > 16 {
		return false, errBadHash
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}
	got, err := h.idKey([]byte(password), salt, t, m, p, uint32(len(want)))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// VerifyNothing spends the time and takes the slot one verification takes,
// against a hash made with the hasher's own parameters, so a login for an
// unknown email costs the same as one for a known email; it returns
// ErrBusy as Verify would.
func (h *Hasher) VerifyNothing(password string) error {
	_, err := h.Verify(h.dummy, password)
	if errors.Is(err, ErrBusy) {
		return err
	}
	return nil
}

// VerifyNothing spends one verification's time with the default hasher.
func VerifyNothing(password string) { _ = defaultHasher.VerifyNothing(password) }

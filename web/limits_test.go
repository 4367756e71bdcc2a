package web

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// countingHasher returns a hasher with room for any burst (so no attempt
// is turned away as busy) and the number of passwords it has hashed.
func countingHasher() (*auth.Hasher, *atomic.Int64) {
	var n atomic.Int64
	h := auth.NewHasher(2, 1000)
	h.OnHash = func() { n.Add(1) }
	return h, &n
}

// formPost posts a form as a browser on the same origin would, from
// goroutines too (it reports with Errorf), and returns the status.
func formPost(t *testing.T, a *testApp, path string, form url.Values, header map[string]string) int {
	req, _ := http.NewRequest(http.MethodPost, a.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// burst sends n posts at once and counts the answers by status.
func burst(t *testing.T, a *testApp, n int, path string, form func(i int) url.Values) map[int]int {
	var (
		mu    sync.Mutex
		codes = map[int]int{}
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			code := formPost(t, a, path, form(i), nil)
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return codes
}

// TestLoginBurstChecksAtMostTheLimit: 200 wrong passwords for one account
// at once check exactly the limit's number of passwords; the rest are
// refused before any hashing. (Before, all 200 were checked.)
func TestLoginBurstChecksAtMostTheLimit(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			h, hashes := countingHasher()
			a := MustStartDeps(t, be, nil, func(d *Deps) { d.Hasher = h })
			MustRegister(t, a, "lin@example.org")
			hashes.Store(0)
			codes := burst(t, a, 200, "/login", func(i int) url.Values {
				return url.Values{"email": {"lin@example.org"}, "password": {"wrong guess " + strconv.Itoa(i)}}
			})
			limit := int(auth.DefaultLoginLimits.PerPair)
			t.Logf("answers %v, passwords checked %d", codes, hashes.Load())
			if codes[http.StatusUnauthorized] != limit || codes[http.StatusTooManyRequests] != 200-limit {
				t.Errorf("answers %v; want %d × 401 and the rest 429", codes, limit)
			}
			if n := hashes.Load(); n != int64(limit) {
				t.Errorf("%d passwords checked; want %d", n, limit)
			}
			// The right password is refused too until the window ends.
			if code := formPost(t, a, "/login", url.Values{"email": {"lin@example.org"}, "password": {goodPassword}}, nil); code != http.StatusTooManyRequests {
				t.Errorf("right password after the burst: %d, want 429", code)
			}
		})
	}
}

// TestRegistrationBurstFromOneAddress: 40 registrations at once from one
// address create at most the hourly limit's number of accounts.
func TestRegistrationBurstFromOneAddress(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			h, hashes := countingHasher()
			a := MustStartDeps(t, be, nil, func(d *Deps) { d.Hasher = h })
			codes := burst(t, a, 40, "/register", func(i int) url.Values {
				return url.Values{"email": {"r" + strconv.Itoa(i) + "@example.org"}, "password": {goodPassword}}
			})
			limit := int(auth.RegisterLimit("").Max)
			t.Logf("answers %v, passwords hashed %d", codes, hashes.Load())
			if codes[http.StatusSeeOther] != limit || codes[http.StatusTooManyRequests] != 40-limit {
				t.Errorf("answers %v; want %d × 303 and the rest 429", codes, limit)
			}
			if n := hashes.Load(); n > int64(limit) {
				t.Errorf("%d passwords hashed; want at most %d", n, limit)
			}
		})
	}
}

// TestDuplicateRegistrationsCount: asking again and again for an address
// that is taken counts against the limit and hashes nothing.
func TestDuplicateRegistrationsCount(t *testing.T) {
	h, hashes := countingHasher()
	a := MustStartDeps(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, func(d *Deps) { d.Hasher = h })
	MustRegister(t, a, "ada@example.org")
	limit := int(auth.RegisterLimit("").Max)
	dup := url.Values{"email": {"ada@example.org"}, "password": {goodPassword}}
	for i := 1; i < limit; i++ {
		if code := formPost(t, a, "/register", dup, nil); code != http.StatusConflict {
			t.Fatalf("duplicate %d: %d, want 409", i, code)
		}
	}
	b := newBrowser(t, a)
	resp := b.post("/register", dup)
	wantStatus(t, resp, http.StatusTooManyRequests)
	if resp.Header.Get("Retry-After") == "" || !strings.Contains(testid(doc(t, resp), "form-message"), "Too many attempts") {
		t.Errorf("the refusal lacks Retry-After or its sentence")
	}
	if n := hashes.Load(); n != 1 {
		t.Errorf("%d passwords hashed; want 1 (the first registration only)", n)
	}
}

// TestHashingAtCapacity: when every hashing slot and place in line is
// taken, a login or registration is answered 503 with Retry-After and a
// sentence on the form, at once, and its attempt is not counted.
func TestHashingAtCapacity(t *testing.T) {
	h := auth.NewHasher(1, 0)
	entered, release := make(chan struct{}), make(chan struct{})
	var hold atomic.Bool
	h.OnHash = func() {
		if hold.Load() {
			entered <- struct{}{}
			<-release
		}
	}
	a := MustStartDeps(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, func(d *Deps) { d.Hasher = h })
	MustRegister(t, a, "ada@example.org")

	hold.Store(true)
	held := make(chan int)
	go func() {
		held <- formPost(t, a, "/login", url.Values{"email": {"ada@example.org"}, "password": {goodPassword}}, nil)
	}()
	<-entered // the only slot is busy and nobody may wait

	b := newBrowser(t, a)
	for _, tc := range []struct{ path, email string }{{"/login", "ada@example.org"}, {"/register", "new@example.org"}} {
		resp := b.post(tc.path, url.Values{"email": {tc.email}, "password": {goodPassword}})
		wantStatus(t, resp, http.StatusServiceUnavailable)
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("%s: Retry-After = %q", tc.path, resp.Header.Get("Retry-After"))
		}
		d := doc(t, resp)
		if msg := testid(d, "form-message"); !strings.Contains(msg, "try again in a few seconds") {
			t.Errorf("%s: message %q", tc.path, msg)
		}
		if v, _ := d.Find("#email").Attr("value"); v != tc.email {
			t.Errorf("%s: the form kept email %q", tc.path, v)
		}
	}
	// Turned-away attempts were given back: only the held login counts.
	rdb := a.redis.Client
	att := auth.DefaultLoginLimits.For("ada@example.org", "127.0.0.1")
	if n, _ := rdb.Get(context.Background(), att.Pair.Key).Int(); n != 1 {
		t.Errorf("pair counter %d while one login is being checked; want 1", n)
	}
	if n, _ := rdb.Get(context.Background(), auth.RegisterLimit("127.0.0.1").Key).Int(); n != 1 {
		t.Errorf("registration counter %d; want 1 (the first account)", n)
	}
	hold.Store(false)
	close(release)
	if code := <-held; code != http.StatusSeeOther {
		t.Errorf("the held login ended %d, want 303", code)
	}
	wantStatus(t, b.post("/register", url.Values{"email": {"new@example.org"}, "password": {goodPassword}}), http.StatusSeeOther)
}

// TestClassroomBehindOneAddress: learners share one address. One learner's
// failures (or a guesser's) block that account from that address only:
// the others log in, and the account still opens from elsewhere. The loose
// per-account and per-address limits remain as backstops.
func TestClassroomBehindOneAddress(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, func(c *config.Config) {
				c.TrustedProxies = []string{"127.0.0.1"} // so the test can stand at other addresses
				c.LoginIPLimit = 20
			})
			learners := []string{"lin@example.org", "sam@example.org", "kim@example.org", "joe@example.org"}
			for _, e := range learners {
				MustRegister(t, a, e)
			}
			from, right, wrong := fromIP, rightLogin, wrongLogin
			b := newBrowser(t, a)
			req := func(form url.Values, ip string) *http.Response {
				r, _ := http.NewRequest(http.MethodPost, a.URL+"/login", strings.NewReader(form.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("Sec-Fetch-Site", "same-origin")
				r.Header.Set("X-Forwarded-For", ip)
				return b.do(r)
			}
			for i := range auth.DefaultLoginLimits.PerPair {
				resp := req(wrong("lin@example.org"), ipSchool)
				wantStatus(t, resp, http.StatusUnauthorized)
				if msg := testid(doc(t, resp), "form-message"); !strings.Contains(msg, "do not match") {
					t.Fatalf("attempt %d message %q", i+1, msg)
				}
			}
			// The guesser is blocked for that account, right password or not.
			resp := req(right("lin@example.org"), ipSchool)
			wantStatus(t, resp, http.StatusTooManyRequests)
			ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
			if err != nil || ra < 1 || ra > 15*60 {
				t.Errorf("Retry-After = %q", resp.Header.Get("Retry-After"))
			}
			if msg := testid(doc(t, resp), "form-message"); !strings.Contains(msg, "Too many attempts") {
				t.Errorf("throttled message %q", msg)
			}
			// The counts live in Redis, shared by every replica.
			if keys, err := a.redis.Client.Keys(context.Background(), "throttle:login:*").Result(); err != nil || len(keys) != 3 {
				t.Errorf("throttle keys in redis: %v %v", keys, err)
			}
			// Classmates at the same address are not blocked, and logging in
			// again and again spends nothing of the address's budget.
			for range 3 {
				for _, e := range learners[1:] {
					if code := formPost(t, a, "/login", right(e), from(ipSchool)); code != http.StatusSeeOther {
						t.Fatalf("%s at the school: %d, want 303", e, code)
					}
				}
			}
			// The owner still logs in from home: the guesser did not lock the account.
			if code := formPost(t, a, "/login", right("lin@example.org"), from(ipHome)); code != http.StatusSeeOther {
				t.Fatalf("lin from home: %d, want 303", code)
			}

			checkAccountBackstop(t, a)
			checkAddressBackstop(t, a)
		})
	}
}

// The addresses the classroom test stands at.
const ipSchool, ipHome, ipCafe = "203.0.113.7", "198.51.100.2", "192.0.2.9"

// fromIP is the header of a request through the trusted proxy from ip.
func fromIP(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }

// rightLogin and wrongLogin are login forms with the right password and
// a wrong one.
func rightLogin(email string) url.Values {
	return url.Values{"email": {email}, "password": {goodPassword}}
}
func wrongLogin(email string) url.Values {
	return url.Values{"email": {email}, "password": {"wrong password!"}}
}

// checkAccountBackstop: when many addresses have spent their guesses at
// one account (here pretended by filling the count), it locks.
func checkAccountBackstop(t *testing.T, a *testApp) {
	t.Helper()
	from, right, wrong := fromIP, rightLogin, wrongLogin
	att := auth.DefaultLoginLimits.For("sam@example.org", ipCafe)
	if err := a.redis.Client.Set(context.Background(), att.Account.Key, att.Account.Max-1, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if code := formPost(t, a, "/login", wrong("sam@example.org"), from(ipCafe)); code != http.StatusUnauthorized {
		t.Fatalf("last guess for sam: %d, want 401", code)
	}
	if code := formPost(t, a, "/login", right("sam@example.org"), from(ipHome)); code != http.StatusTooManyRequests {
		t.Errorf("sam after the account's budget is spent: %d, want 429", code)
	}
}

// checkAddressBackstop: WORKBOOK_LOGIN_IP_LIMIT (20 here) bounds the
// failures from one address; the school has spent 10 on lin, 10 failures
// on other accounts spend the rest, and then nobody there can try.
func checkAddressBackstop(t *testing.T, a *testApp) {
	t.Helper()
	from, right, wrong := fromIP, rightLogin, wrongLogin
	for i := range 10 {
		if code := formPost(t, a, "/login", wrong("nobody"+strconv.Itoa(i)+"@example.org"), from(ipSchool)); code != http.StatusUnauthorized {
			t.Fatalf("failure %d on other accounts: %d, want 401", i+1, code)
		}
	}
	if code := formPost(t, a, "/login", right("kim@example.org"), from(ipSchool)); code != http.StatusTooManyRequests {
		t.Errorf("kim at the school after its budget is spent: %d, want 429", code)
	}
	if code := formPost(t, a, "/login", right("kim@example.org"), from(ipHome)); code != http.StatusSeeOther {
		t.Errorf("kim from home: %d, want 303", code)
	}
}

package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/grader"
	"github.com/sdworkbook/workbook/internal/app"
	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/redis"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// testApp is a running workbook on one backend with a controllable clock.
type testApp struct {
	*httptest.Server
	app   *Server
	store *store.Store
	redis *redis.Conn
	mu    sync.Mutex
	now   time.Time
	logs  *logSink // the app's warnings and errors
}

// logSink keeps what a test app logs at warn and above, as JSON lines.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines returns the records logged so far whose message is msg.
func (l *logSink) lines(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(l.buf.Bytes(), []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(line, &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func (a *testApp) clock() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.now
}

func (a *testApp) advance(d time.Duration) {
	a.mu.Lock()
	a.now = a.now.Add(d)
	a.mu.Unlock()
}

// MustStart runs the app on backend b. edit may change the configuration.
func MustStart(tb testing.TB, b testenv.Backend, edit func(*config.Config)) *testApp {
	return MustStartLabs(tb, b, edit)
}

// MustStartLabs runs the app on backend b serving the given labs; it takes
// submissions but grades none.
func MustStartLabs(tb testing.TB, b testenv.Backend, edit func(*config.Config), ls ...labs.Lab) *testApp {
	tb.Helper()
	return startApp(tb, b, edit, grader.Options{}, ls...)
}

// MustStartGrading runs the app on backend b with grader workers in the
// embedded environment (the grader's own tests cover containers).
func MustStartGrading(tb testing.TB, b testenv.Backend, ls ...labs.Lab) *testApp {
	tb.Helper()
	return startApp(tb, b, nil, grader.Options{Workers: 2, Environment: grader.EnvEmbedded, PollInterval: 100 * time.Millisecond}, ls...)
}

// MustStartDeps runs the app on backend b; deps may change what New gets
// (a hasher with a hook, say).
func MustStartDeps(tb testing.TB, b testenv.Backend, edit func(*config.Config), deps func(*Deps)) *testApp {
	tb.Helper()
	return startAppDeps(tb, b, edit, deps, grader.Options{})
}

func startApp(tb testing.TB, b testenv.Backend, edit func(*config.Config), gopts grader.Options, ls ...labs.Lab) *testApp {
	tb.Helper()
	return startAppDeps(tb, b, edit, nil, gopts, ls...)
}

func startAppDeps(tb testing.TB, b testenv.Backend, edit func(*config.Config), editDeps func(*Deps), gopts grader.Options, ls ...labs.Lab) *testApp {
	tb.Helper()
	ctx := context.Background()
	env := map[string]string{"WORKBOOK_DATA_DIR": b.DataDir, "DATABASE_URL": b.DatabaseURL, "REDIS_URL": b.RedisURL}
	cfg, err := config.Load(config.MapEnv(env))
	if err != nil {
		tb.Fatal(err)
	}
	// The listener exists before the app, so the app knows the address
	// other replicas reach it at.
	ts := httptest.NewUnstartedServer(nil)
	cfg.ReplicaURL = "http://" + ts.Listener.Addr().String()
	if edit != nil {
		edit(&cfg)
	}
	a := &testApp{now: time.Now(), logs: &logSink{}}
	wired, err := app.Open(ctx, cfg, app.Options{
		Logger:   slog.New(slog.NewJSONHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Now:      a.clock,
		Hasher:   testHasher(),
		Registry: labs.MustRegistry(ls...),
		Grader:   func(o *grader.Options) { *o = gopts },
		Site: func(w *app.App) (app.Site, error) {
			deps := DepsOf(w)
			if editDeps != nil {
				editDeps(&deps)
			}
			return New(deps)
		},
	})
	if err != nil {
		ts.Close()
		tb.Fatal(err)
	}
	if err := wired.Start(ctx); err != nil {
		ts.Close()
		wired.Close()
		tb.Fatal(err)
	}
	a.app, a.store, a.redis = wired.Site.(*Server), wired.Store, wired.Redis
	ts.Config.Handler = a.app
	ts.Start()
	a.Server = ts
	tb.Cleanup(func() {
		a.Server.Close()
		wired.Close()
	})
	return a
}

// testHasher hashes with argon2id at a cost far below the server's: under
// the race detector one hash at the real cost takes most of a second, and
// the web tests make thousands. TestServerHashesAtTheRealCost keeps the
// server's own hasher honest; tests of the hasher's bounds bring their own.
func testHasher() *auth.Hasher {
	return auth.NewHasherWith(runtime.GOMAXPROCS(0), 4*runtime.GOMAXPROCS(0), auth.Params{MemoryKiB: 64, Time: 1, Threads: 1})
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see each 303. It sends the headers a browser sends on
// a same-origin form post.
type browser struct {
	tb   testing.TB
	base string
	c    *http.Client
}

func newBrowser(tb testing.TB, a *testApp) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{tb: tb, base: a.URL, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browser) do(req *http.Request) *http.Response {
	b.tb.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.tb.Fatal(err)
	}
	b.tb.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (b *browser) get(path string) *http.Response {
	b.tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	req.Header.Set("Sec-Fetch-Site", "none")
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) *http.Response {
	b.tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", b.base)
	return b.do(req)
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func doc(tb testing.TB, resp *http.Response) *goquery.Document {
	tb.Helper()
	d, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func testid(d *goquery.Document, id string) string {
	return strings.TrimSpace(d.Find(`[data-testid="` + id + `"]`).Text())
}

func wantStatus(tb testing.TB, resp *http.Response, want int) {
	tb.Helper()
	if resp.StatusCode != want {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 2000))
		tb.Fatalf("%s %s: status %d, want %d\n%s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, body)
	}
}

const goodPassword = "correct horse battery"

// MustRegister creates an account through the form and returns its browser.
func MustRegister(tb testing.TB, a *testApp, email string) *browser {
	tb.Helper()
	b := newBrowser(tb, a)
	resp := b.post("/register", url.Values{"email": {email}, "password": {goodPassword}})
	wantStatus(tb, resp, http.StatusSeeOther)
	return b
}

// MustAdmin creates an account through the form and makes it an admin,
// as the setup link or `server admin` would: registering first makes
// nobody an admin.
func MustAdmin(tb testing.TB, a *testApp, email string) *browser {
	tb.Helper()
	b := MustRegister(tb, a, email)
	MustSetRole(tb, a, email, store.RoleAdmin)
	return b
}

// MustSetRole gives the account with email a role.
func MustSetRole(tb testing.TB, a *testApp, email string, role store.Role) {
	tb.Helper()
	ctx := context.Background()
	u, err := a.store.UserByEmail(ctx, strings.ToLower(email))
	if err != nil {
		tb.Fatal(err)
	}
	if err := a.store.SetRole(ctx, u.ID, role); err != nil {
		tb.Fatal(err)
	}
}

// MustAccount makes an account with a role in the store, as an operator
// would, logs it in and returns its browser: for servers whose policy
// lets nobody register.
func MustAccount(tb testing.TB, a *testApp, email string, role store.Role) *browser {
	tb.Helper()
	hash, err := auth.HashPassword(goodPassword)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := a.store.CreateUser(context.Background(), email, hash, role); err != nil {
		tb.Fatal(err)
	}
	b := newBrowser(tb, a)
	wantStatus(tb, b.post("/login", url.Values{"email": {email}, "password": {goodPassword}}), http.StatusSeeOther)
	return b
}

func httptestServer(tb testing.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv.URL
}

// api sends a JSON request as the page's fetch would (same origin).
func (b *browser) api(method, path, body string) *http.Response {
	b.tb.Helper()
	req, _ := http.NewRequest(method, b.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

func decodeJSON(tb testing.TB, resp *http.Response) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		tb.Fatalf("%s: not JSON: %v", resp.Request.URL.Path, err)
	}
	return m
}

// chromeSteps returns helpers that run chromedp steps against ctx and fail
// the test on the first error: do runs steps, text reads an element's text.
func chromeSteps(t *testing.T, ctx context.Context) (do func(...chromedp.Action[chromedp.Void]), text func(string) string) {
	do = func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	text = func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	return do, text
}

func readBody(tb testing.TB, resp *http.Response) string {
	tb.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// authTokenID is the stored form of a token.
func authTokenID(token string) string { return auth.TokenID(token) }

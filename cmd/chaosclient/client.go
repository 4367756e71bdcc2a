package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// requestTimeout bounds every request: a request that takes longer is an
// error, as it is for a person who gives up.
const requestTimeout = 5 * time.Second

// result is one request of the loop.
type result struct {
	start, end time.Time
	name       string
	needsDeps  bool   // the request needs PostgreSQL or Redis to succeed
	status     string // "200", "503", "timeout", "connection"
	ok         bool
}

// learner is a signed-in browser and an anonymous one, both through the
// load balancer.
type learner struct {
	base      string
	signedIn  *http.Client
	anon      *http.Client
	mu        sync.Mutex
	instance  string // a limiter instance of the learner's
	launching bool
	results   []result
}

func newClient(jar http.CookieJar) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: requestTimeout}).DialContext,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
	return &http.Client{
		Jar: jar, Transport: tr, Timeout: requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func newLearner(base string) *learner {
	jar, _ := cookiejar.New(nil)
	return &learner{base: base, signedIn: newClient(jar), anon: newClient(nil)}
}

// do sends one request and tells its outcome; a body is JSON unless form
// is set.
func (l *learner) do(ctx context.Context, c *http.Client, method, path string, body string, form bool) (int, []byte, error) {
	code, _, b, err := l.doHeader(ctx, c, method, path, body, form)
	return code, b, err
}

// doHeader is do with the response's header.
func (l *learner) doHeader(ctx context.Context, c *http.Client, method, path string, body string, form bool) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Origin", l.base)
	if body != "" {
		ct := "application/json"
		if form {
			ct = "application/x-www-form-urlencoded"
		}
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// setUp registers the learner and launches a limiter instance, retrying
// for a while: the stack may still be starting.
func (l *learner) setUp(ctx context.Context) error {
	email := fmt.Sprintf("chaos-%d@example.org", time.Now().UnixNano())
	form := url.Values{"email": {email}, "password": {"a long chaos password"}}.Encode()
	if err := retry(ctx, func() error {
		code, b, err := l.do(ctx, l.signedIn, http.MethodPost, "/register", form, true)
		if err == nil && code != http.StatusSeeOther {
			err = fmt.Errorf("register answered %d: %.200s", code, b)
		}
		return err
	}); err != nil {
		return err
	}
	return retry(ctx, func() error { return l.launch(ctx) })
}

// launch starts the learner's limiter instance.
func (l *learner) launch(ctx context.Context) error {
	id, err := l.postForID(ctx, "/api/labs/limiter/instances", `{"algorithm": "fixed_window", "limit": 5, "window_ms": 1000}`)
	if err == nil {
		l.mu.Lock()
		l.instance = id
		l.mu.Unlock()
	}
	return err
}

// relaunch launches the instance again, once at a time, after it was
// lost with the replica that held it, as a learner would.
func (l *learner) relaunch(ctx context.Context) {
	l.mu.Lock()
	if l.launching {
		l.mu.Unlock()
		return
	}
	l.launching = true
	l.mu.Unlock()
	go func() {
		_ = l.launch(ctx)
		l.mu.Lock()
		l.launching = false
		l.mu.Unlock()
	}()
}

func (l *learner) instanceID() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.instance
}

// submit sends a known good limiter design for grading and returns its id.
func (l *learner) submit(ctx context.Context) (string, error) {
	var id string
	err := retry(ctx, func() error {
		var err error
		id, err = l.postForID(ctx, "/api/labs/limiter/submissions",
			`{"exercise": "limiter-api-quota", "design": {"algorithm": "sliding_log", "limit": 20, "window_ms": 2000}, "notes": "chaos"}`)
		return err
	})
	return id, err
}

func (l *learner) postForID(ctx context.Context, path, body string) (string, error) {
	code, b, err := l.do(ctx, l.signedIn, http.MethodPost, path, body, false)
	if err != nil {
		return "", err
	}
	var v struct{ ID string }
	if code/100 != 2 || json.Unmarshal(b, &v) != nil || v.ID == "" {
		return "", fmt.Errorf("POST %s answered %d: %.200s", path, code, b)
	}
	return v.ID, nil
}

// submission is what the API says of a submission.
type submission struct {
	Status string
	Score  *int
	Checks []struct{ Name string }
}

func (l *learner) submission(ctx context.Context, id string) (submission, error) {
	var s submission
	code, b, err := l.do(ctx, l.signedIn, http.MethodGet, "/api/submissions/"+id, "", false)
	if err == nil && (code != http.StatusOK || json.Unmarshal(b, &s) != nil) {
		err = fmt.Errorf("GET /api/submissions/%s answered %d: %.200s", id, code, b)
	}
	return s, err
}

func retry(ctx context.Context, f func() error) error {
	var err error
	for range 60 {
		if err = f(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return err
}

// step is one kind of request of the loop.
type step struct {
	name      string
	needsDeps bool
	signedIn  bool
	method    string
	path      func(l *learner) string
	ok        func(code int) bool
}

func success(code int) bool { return code/100 == 2 || code/100 == 3 }

// mix is what the loop sends, in turn: pages a visitor reads, which need
// neither PostgreSQL nor Redis, and a learner's pages, API and lab.
var mix = []step{
	{"anonymous lesson", false, false, http.MethodGet, func(*learner) string { return "/lessons/cap" }, success},
	{"static file", false, false, http.MethodGet, func(*learner) string { return "/static/app.css" }, success},
	{"healthz", false, false, http.MethodGet, func(*learner) string { return "/healthz" }, success},
	{"progress page", true, true, http.MethodGet, func(*learner) string { return "/progress" }, success},
	{"labs API", true, true, http.MethodGet, func(*learner) string { return "/api/labs" }, success},
	{"lab poke", true, true, http.MethodPost, func(l *learner) string { return "/api/labs/limiter/instances/" + l.instanceID() + "/request?key=chaos" },
		func(code int) bool { return code == http.StatusOK || code == http.StatusTooManyRequests }},
}

// loop sends the mix from workers, each pausing interval between
// requests, until ctx ends.
func (l *learner) loop(ctx context.Context, steps []step, workers int, interval time.Duration) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; ctx.Err() == nil; i++ {
				l.send(ctx, steps[i%len(steps)])
				select {
				case <-ctx.Done():
				case <-time.After(interval):
				}
			}
		})
	}
	wg.Wait()
}

func (l *learner) send(ctx context.Context, s step) {
	c := l.anon
	if s.signedIn {
		c = l.signedIn
	}
	r := result{start: time.Now(), name: s.name, needsDeps: s.needsDeps}
	code, h, _, err := l.doHeader(ctx, c, s.method, s.path(l), "", false)
	r.end = time.Now()
	switch {
	case ctx.Err() != nil:
		return // the loop is over, not the server
	case err == nil:
		r.status, r.ok = fmt.Sprint(code), s.ok(code)
		if code == http.StatusServiceUnavailable && h.Get("Retry-After") == "" {
			r.status = "503 without Retry-After" // not the app's own answer
		}
		if s.name == "lab poke" && code == http.StatusNotFound {
			l.relaunch(ctx) // the instance was lost: an error, and a new launch
		}
	case errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err):
		r.status = "timeout"
	default:
		r.status = "connection"
	}
	l.mu.Lock()
	l.results = append(l.results, r)
	l.mu.Unlock()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// since is a copy of the results that started at t or later.
func (l *learner) since(t time.Time) []result {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []result
	for _, r := range l.results {
		if !r.start.Before(t) {
			out = append(out, r)
		}
	}
	return out
}

package web

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sdworkbook/workbook/grader"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
	"github.com/sdworkbook/workbook/labs/shortener"
)

// BenchmarkLabRequests measures a signed-in learner's hottest lab
// requests through the whole application in process (router, request
// log at info level into a JSON handler, session, ownership, the lab's
// router), against baselines in the same run: a bare handler answering
// the same 301, and the application's own /healthz (the middleware
// without a session). Compare ns/op and allocs/op with "bare-301".
//
//	go test ./web -run '^$' -bench LabRequests -benchtime 2s
func BenchmarkLabRequests(b *testing.B) {
	info := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a := startAppDeps(b, testenv.Backend{Name: "embedded", DataDir: b.TempDir()}, nil, func(d *Deps) { d.Logger = info },
		grader.Options{}, limiter.Lab, shortener.Lab)
	learner := MustRegister(b, a, "bench-labs@example.org")
	cookie := learner.cookie("workbook_session")
	id := func(path, body string) string {
		resp := learner.api(http.MethodPost, path, body)
		defer resp.Body.Close()
		var v struct {
			ID   string `json:"id"`
			Code string `json:"code"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode >= 300 {
			b.Fatalf("POST %s: %d %v", path, resp.StatusCode, err)
		}
		return v.ID + v.Code
	}
	lim := id("/api/labs/limiter/instances", `{}`)
	sho := id("/api/labs/shortener/instances", `{"cache":"redis_and_local"}`)
	code := id("/api/labs/shortener/instances/"+sho+"/shorten", `{"url":"https://example.org/x"}`)
	target := "https://example.org/x"
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", target)
		w.WriteHeader(http.StatusMovedPermanently)
	})
	run := func(name string, h http.Handler, method, path string, withCookie bool, want int) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest(method, path, nil)
					r.RemoteAddr = "127.0.0.1:40000"
					if withCookie {
						r.AddCookie(cookie)
						r.Header.Set("Sec-Fetch-Site", "same-origin")
					}
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != want && !(want == http.StatusTooManyRequests && w.Code == http.StatusOK) {
						b.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body.String())
					}
				}
			})
		})
	}
	run("bare-301", bare, http.MethodGet, "/", false, http.StatusMovedPermanently)
	run("healthz", a.app, http.MethodGet, "/healthz", false, http.StatusOK)
	run("shortener-redirect", a.app, http.MethodGet, "/api/labs/shortener/instances/"+sho+"/r/"+code, true, http.StatusMovedPermanently)
	run("limiter-decision", a.app, http.MethodPost, "/api/labs/limiter/instances/"+lim+"/request?key=bench", true, http.StatusTooManyRequests) // a decision: mostly 429, now and then 200
}

package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/internal/apperr"
)

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// The errors the real clients return when their server is gone are told
// apart from the errors of a wrong query or a missing row.
func TestDependencyDown(t *testing.T) {
	addr := closedAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rdb := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	redisErr := rdb.Get(ctx, "k").Err()
	_, pgErr := pgx.Connect(ctx, "postgres://u:p@"+addr+"/db?sslmode=disable&connect_timeout=5")
	_, pgNameErr := pgx.Connect(ctx, "postgres://u:p@no-such-host.invalid/db?sslmode=disable&connect_timeout=5")
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"redis server gone", redisErr, true},
		{"postgres server gone", pgErr, true},
		{"postgres server's name gone", pgNameErr, true},
		{"wrapped by the store", fmt.Errorf("store: sessions: %w", pgErr), true},
		{"redis key missing", goredis.Nil, false},
		{"row missing", apperr.New(apperr.NotFound, "no such row"), false},
		{"plain error", errors.New("constraint violated"), false},
		{"nil", nil, false},
	} {
		if got := dependencyDown(tc.err); got != tc.want {
			t.Errorf("%s: dependencyDown(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// A handler whose dependency is gone answers the app's own 503, with a
// sentence and a Retry-After, as a page and as JSON.
func TestUnavailableAnswer(t *testing.T) {
	gin.SetMode(gin.TestMode)
	srv := &Server{log: slog.New(slog.DiscardHandler)}
	rdb := goredis.NewClient(&goredis.Options{Addr: closedAddr(t), MaxRetries: -1})
	defer rdb.Close()
	r := gin.New()
	r.Use(retryAfterOn503)
	handler := func(c *gin.Context) { srv.fail(c, fmt.Errorf("reading: %w", rdb.Get(c.Request.Context(), "k").Err())) }
	r.GET("/api/thing", handler)
	r.GET("/busy", func(c *gin.Context) {
		c.Header("Retry-After", "30")
		c.String(http.StatusServiceUnavailable, "busy")
	})
	for _, tc := range []struct{ path, retry string }{{"/api/thing", "5"}, {"/busy", "30"}} {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if w.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s: status %d, want 503: %s", tc.path, w.Code, w.Body)
		}
		if got := w.Header().Get("Retry-After"); got != tc.retry {
			t.Errorf("%s: Retry-After %q, want %q", tc.path, got, tc.retry)
		}
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/thing", nil))
	if want := `"code":"` + string(apperr.Unavailable) + `"`; !strings.Contains(w.Body.String(), want) || !strings.Contains(w.Body.String(), unavailableMessage) {
		t.Errorf("body %s lacks %s and the message", w.Body, want)
	}
}

package duplex_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/duplex"
)

// gated is a request body whose second half is sent only when open is
// closed.
type gated struct {
	parts []string
	open  chan struct{}
	once  sync.Once
	n     int
}

func (g *gated) release() { g.once.Do(func() { close(g.open) }) }

func (g *gated) Read(p []byte) (int, error) {
	if g.n >= len(g.parts) {
		return 0, io.EOF
	}
	if g.n > 0 {
		<-g.open
	}
	g.n++
	return copy(p, g.parts[g.n-1]), nil
}

// The answer starts before the whole body has gone through the proxy:
// the upstream answers after the first half, then reads the rest and
// echoes it. A proxy whose server closes the body when the answer starts
// loses the second half (the race a busy machine makes of a quick answer
// to a small body, made certain here).
func TestProxyReadsTheBodyWhileTheAnswerIsWritten(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		duplex.Allow(w)
		first := make([]byte, len("hello "))
		if _, err := io.ReadFull(r.Body, first); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, "first: "+string(first)+"\n")
		_ = http.NewResponseController(w).Flush()
		rest, err := io.ReadAll(r.Body)
		if err != nil {
			_, _ = io.WriteString(w, "reading the rest: "+err.Error())
			return
		}
		_, _ = io.WriteString(w, "rest: "+string(rest))
	}))
	defer up.Close()
	target, _ := url.Parse(up.URL)
	p := &httputil.ReverseProxy{
		Rewrite:       func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		FlushInterval: -1,
	}
	px := httptest.NewServer(duplex.Handler(p))
	defer px.Close()

	body := &gated{parts: []string{"hello ", "world"}, open: make(chan struct{})}
	defer body.release()
	// A proxy that closes the body when the answer starts cannot begin the
	// answer before the whole body has come: it would wait forever for the
	// rest, so the rest is sent after a while anyway and the test fails.
	var waited atomic.Bool
	safety := time.AfterFunc(30*time.Second, func() { waited.Store(true); body.release() })
	defer safety.Stop()
	req, _ := http.NewRequest(http.MethodPost, px.URL, body)
	req.ContentLength = int64(len("hello world"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if waited.Load() {
		t.Fatal("the proxy began its answer only once the whole body had come")
	}
	body.release() // the answer has begun: send the rest
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v (read %q)", err, got)
	}
	if want := "first: hello \nrest: world"; string(got) != want {
		t.Fatalf("answer %q, want %q", got, want)
	}
}

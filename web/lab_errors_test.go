package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
	"github.com/sdworkbook/workbook/labs/shortener"
)

// swapLab is a lab whose reconfigure can be held in the middle: New for
// step 2 waits until the test lets it go, with the old instance closed
// already. A closed instance answers 503, as a real one whose Redis pool
// or database handle is closed does.
type swapLab struct {
	counterLab
	entered, release chan struct{} // New for step 2 has begun; let it finish
	slowIn, slowOut  chan struct{} // POST slow has begun; let it answer
}

type swapInst struct {
	lab    *swapLab
	closed atomic.Bool
}

func (l *swapLab) New(_ context.Context, _ labs.Env, d labs.Design) (labs.Instance, error) {
	if d.Int("step") == 2 {
		close(l.entered)
		<-l.release
	}
	return &swapInst{lab: l}, nil
}

func (in *swapInst) answer(w http.ResponseWriter) {
	w.Header().Set("X-Lab-Answer", "swap")
	if in.closed.Load() {
		labhttp.WriteError(w, nil, labhttp.Errorf(http.StatusServiceUnavailable, labhttp.CodeUnavailable, "redis: client is closed"))
		return
	}
	labhttp.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (in *swapInst) Handler() http.Handler {
	rt := labhttp.NewRouter(nil)
	rt.HandleFunc("POST /hit", func(w http.ResponseWriter, _ *http.Request) { in.answer(w) })
	rt.HandleFunc("POST /fail", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Lab-Answer", "failed")
		labhttp.WriteError(w, r, labhttp.Errorf(http.StatusInternalServerError, labhttp.CodeUnavailable, "the lab's own failure"))
	})
	rt.HandleFunc("POST /slow", func(w http.ResponseWriter, _ *http.Request) {
		close(in.lab.slowIn)
		<-in.lab.slowOut
		in.answer(w)
	})
	return rt
}

func (in *swapInst) Hit(context.Context, string) (int, error) { return http.StatusOK, nil }
func (in *swapInst) State(context.Context) (any, error) {
	if in.closed.Load() {
		return nil, io.ErrClosedPipe
	}
	return map[string]bool{"ok": true}, nil
}
func (in *swapInst) Close(context.Context) error { in.closed.Store(true); return nil }

// wantReconfiguring checks a 409 with code "reconfiguring" and a sentence.
func wantReconfiguring(t *testing.T, resp *http.Response) {
	t.Helper()
	wantStatus(t, resp, http.StatusConflict)
	e, _ := decodeJSON(t, resp)["error"].(map[string]any)
	if msg, _ := e["message"].(string); e["code"] != "reconfiguring" || !strings.Contains(msg, "being reconfigured") {
		t.Errorf("%s %s: error %v", resp.Request.Method, resp.Request.URL.Path, e)
	}
}

// wantLabAnswer checks that an answer carries the lab's header, and the
// app's request id and security headers.
func wantLabAnswer(t *testing.T, resp *http.Response, answer string) {
	t.Helper()
	if got := resp.Header.Get("X-Lab-Answer"); got != answer {
		t.Errorf("X-Lab-Answer %q, want %q", got, answer)
	}
	if resp.Header.Get("X-Request-ID") == "" || resp.Header.Get("Content-Security-Policy") == "" ||
		resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers of the lab's answer: %v", resp.Header)
	}
}

// TestReconfigureRace: while a reconfigure swaps an instance, every
// request to it answers 409 "reconfiguring" with a sentence, instead of
// reaching the closed instance (which answered 503); a request already in
// flight whose instance was closed under it gets the same, with the lab's
// own answer in the log under its request id. Then the new design serves.
func TestReconfigureRace(t *testing.T) {
	l := &swapLab{entered: make(chan struct{}), release: make(chan struct{}), slowIn: make(chan struct{}), slowOut: make(chan struct{})}
	a := MustStartLabs(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, l)
	t.Cleanup(func() { // a failed test lets the held requests finish, so the server can stop
		for _, ch := range []chan struct{}{l.slowOut, l.release} {
			select {
			case <-ch:
			default:
				close(ch)
			}
		}
	})
	b := MustRegister(t, a, "swap@example.org")
	resp := b.api("POST", "/api/labs/counter/instances", `{"step": 1}`)
	wantStatus(t, resp, http.StatusCreated)
	inst := "/api/labs/counter/instances/" + decodeJSON(t, resp)["id"].(string)

	slow := make(chan *http.Response, 1)
	go func() { slow <- b.api("POST", inst+"/slow", "") }()
	<-l.slowIn
	// An answer, a failure of the lab's own included, reaches the learner
	// as the lab made it, with the app's headers too.
	resp = b.api("POST", inst+"/hit", "")
	wantStatus(t, resp, http.StatusOK)
	wantLabAnswer(t, resp, "swap")
	resp = b.api("POST", inst+"/fail", "")
	wantStatus(t, resp, http.StatusInternalServerError)
	wantLabAnswer(t, resp, "failed")
	if e, _ := decodeJSON(t, resp)["error"].(map[string]any); e["message"] != "the lab's own failure" {
		t.Errorf("the lab's failure reached the learner as %v", e)
	}

	patched := make(chan *http.Response, 1)
	go func() { patched <- b.api("PATCH", inst, `{"step": 2}`) }()
	<-l.entered // the old instance is closed, the new one not built

	wantReconfiguring(t, b.api("POST", inst+"/hit", ""))
	wantReconfiguring(t, b.api("GET", inst, ""))
	wantReconfiguring(t, b.api("POST", inst+"/load", `{"requests": 10}`))
	wantReconfiguring(t, b.api("PATCH", inst, `{"step": 3}`))
	wantReconfiguring(t, b.api("DELETE", inst, ""))

	close(l.slowOut) // the request in flight meets its closed instance
	resp = <-slow
	wantReconfiguring(t, resp)
	if h := resp.Header.Get("X-Lab-Answer"); h != "" || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("the reconfiguring answer carries the lab's header %q, or lacks the app's: %v", h, resp.Header)
	}
	id := resp.Header.Get("X-Request-ID")
	found := false
	for _, line := range a.logs.lines("request") {
		if line["request_id"] == id {
			found = strings.Contains(line["err"].(string), "answered 503") && strings.Contains(line["err"].(string), "client is closed")
		}
	}
	if !found {
		t.Errorf("no log line for request %s with the lab's own answer", id)
	}

	close(l.release)
	resp = <-patched
	wantStatus(t, resp, http.StatusOK)
	if d, _ := decodeJSON(t, resp)["design"].(map[string]any); d["step"] != 2.0 {
		t.Errorf("design after the reconfigure: %v", d)
	}
	wantStatus(t, b.api("POST", inst+"/hit", ""), http.StatusOK)
	wantStatus(t, b.api("DELETE", inst, ""), http.StatusNoContent)
}

// TestLabFailuresShowNoSQL: when the database fails under a lab, its owner
// reads a sentence with the request id; the error text, with its SQL and
// table names, goes to the log under that request id.
func TestLabFailuresShowNoSQL(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStartLabs(t, be, nil, shortener.Lab)
			b := MustRegister(t, a, "owner@example.org")
			resp := b.api("POST", "/api/labs/shortener/instances", `{}`)
			wantStatus(t, resp, http.StatusCreated)
			inst := "/api/labs/shortener/instances/" + decodeJSON(t, resp)["id"].(string)
			resp = b.api("GET", inst+"/shards", "")
			wantStatus(t, resp, http.StatusOK)
			var shards shortener.ShardsView
			if err := json.NewDecoder(resp.Body).Decode(&shards); err != nil || len(shards.PerShard) == 0 {
				t.Fatalf("shards: %v %v", shards, err)
			}
			for _, sh := range shards.PerShard {
				if _, err := a.store.SQL().Exec("DROP TABLE " + sh.Table); err != nil {
					t.Fatal(err)
				}
			}
			resp = b.api("GET", inst+"/shards", "")
			wantStatus(t, resp, http.StatusServiceUnavailable)
			id := resp.Header.Get("X-Request-ID")
			body := readBody(t, resp)
			for _, leak := range []string{shards.PerShard[0].Table, "SQLSTATE", "no such table", "relation", "SELECT", "count shard"} {
				if strings.Contains(body, leak) {
					t.Errorf("the answer shows %q: %s", leak, body)
				}
			}
			if !strings.Contains(body, "The database failed.") || !strings.Contains(body, id) {
				t.Errorf("the answer lacks its sentence or request id %s: %s", id, body)
			}
			logged := false
			for _, line := range a.logs.lines("lab request failed") {
				err, _ := line["err"].(string)
				logged = logged || line["request_id"] == id && strings.Contains(err, shards.PerShard[0].Table)
			}
			if !logged {
				t.Errorf("no log line with request id %s and the database's error: %v", id, a.logs.lines("lab request failed"))
			}
		})
	}
}

package web

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// openStream opens a submission's event stream as b and returns the
// response; a 200 has sent its first event before openStream returns.
func openStream(t *testing.T, ctx context.Context, b *browser, id string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/api/submissions/"+id+"/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode == http.StatusOK {
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "event: ") {
			t.Fatalf("the stream began %q (%v)", line, err)
		}
	}
	return resp
}

// submitQueued submits a limiter design as b; the test app grades
// nothing, so it stays queued and its stream stays open.
func submitQueued(t *testing.T, b *browser) string {
	t.Helper()
	resp := b.api("POST", "/api/labs/limiter/submissions", `{"design": {}}`)
	wantStatus(t, resp, http.StatusAccepted)
	id, _ := decodeJSON(t, resp)["id"].(string)
	return id
}

// TestGradingStreamsPerUser: one learner can follow only so many gradings
// live at once; the next is a 429 with a sentence, other learners are not
// affected, and closing a stream frees its slot.
func TestGradingStreamsPerUser(t *testing.T) {
	a := MustStartLabs(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, limiter.Lab)
	hog, other := MustRegister(t, a, "hog@example.org"), MustRegister(t, a, "other@example.org")
	id, otherID := submitQueued(t, hog), submitQueued(t, other)

	cancels := make([]context.CancelFunc, 0, maxStreamsPerUser)
	for range maxStreamsPerUser {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		cancels = append(cancels, cancel)
		wantStatus(t, openStream(t, ctx, hog, id), http.StatusOK)
	}
	resp := openStream(t, context.Background(), hog, id)
	wantStatus(t, resp, http.StatusTooManyRequests)
	e, _ := decodeJSON(t, resp)["error"].(map[string]any)
	if msg, _ := e["message"].(string); e["code"] != "too_many" || !strings.Contains(msg, "Close a tab") {
		t.Errorf("the refusal: %v", e)
	}
	// Another learner still gets a stream.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wantStatus(t, openStream(t, ctx, other, otherID), http.StatusOK)

	// Closing one of the hog's streams frees a slot once the server has
	// seen the client go.
	cancels[0]()
	for i := 0; ; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		resp := openStream(t, ctx, hog, id)
		if resp.StatusCode == http.StatusOK {
			break
		}
		cancel()
		if resp.StatusCode != http.StatusTooManyRequests || i == 200 {
			t.Fatalf("after closing a stream: %d", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestStreamSlots(t *testing.T) {
	s := newStreamSlots(3, 2)
	r1, err1 := s.take(1)
	_, err2 := s.take(1)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if _, err := s.take(1); err == nil {
		t.Error("a third stream for one user")
	}
	r3, err := s.take(2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.take(3); err == nil {
		t.Error("a fourth stream on a replica for three")
	}
	r1()
	r1() // twice frees once
	if _, err := s.take(3); err != nil {
		t.Errorf("a freed slot: %v", err)
	}
	if _, err := s.take(3); err == nil {
		t.Error("a double release freed two slots")
	}
	r3()
	if s.byUser[2] != 0 || len(s.byUser) != 2 {
		t.Errorf("counts left: %v", s.byUser)
	}
}

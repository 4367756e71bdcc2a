package web

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/limiter"
	"github.com/sdworkbook/workbook/labs/shop"
)

// twoReplicas are two app instances on one backend, as two replicas
// behind a load balancer: one database, one Redis, each its own lab
// manager and address.
func twoReplicas(t *testing.T, be testenv.Backend) (*testApp, *testApp) {
	t.Helper()
	a1 := MustStartLabs(t, be, nil, limiter.Lab, shop.Lab)
	a2 := replicaOf(t, be, a1, nil)
	// One time on both, as on machines with synchronised clocks: however
	// long the second took to start, the first's heartbeat is not old.
	a2.mu.Lock()
	a2.now = a1.clock()
	a2.mu.Unlock()
	return a1, a2
}

// replicaOf starts another replica beside a on backend be: on the
// embedded default it uses a's embedded Redis server.
func replicaOf(t *testing.T, be testenv.Backend, a *testApp, edit func(*config.Config)) *testApp {
	t.Helper()
	opt := a.redis.Client.Options()
	shared := (&url.URL{Scheme: "redis", User: url.UserPassword(opt.Username, opt.Password), Host: opt.Addr,
		Path: "/" + strconv.Itoa(opt.DB)}).String()
	return MustStartLabs(t, be, func(c *config.Config) {
		c.RedisURL = shared
		if edit != nil {
			edit(c)
		}
	}, limiter.Lab, shop.Lab)
}

// at is b with the same cookies, talking to another replica.
func (b *browser) at(a *testApp) *browser {
	return &browser{tb: b.tb, base: a.URL, c: b.c}
}

// launched launches an instance of lab through b and returns its id.
func launched(t *testing.T, b *browser, lab, design string) string {
	t.Helper()
	resp := b.api(http.MethodPost, "/api/labs/"+lab+"/instances", design)
	wantStatus(t, resp, http.StatusCreated)
	return decodeJSON(t, resp)["id"].(string)
}

// firstEvent reads the first Server-Sent Event's name and data.
func firstEvent(t *testing.T, resp *http.Response) (string, string) {
	t.Helper()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var name string
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			name = v
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			return name, v
		}
	}
	t.Fatalf("no event in the stream: %v", sc.Err())
	return "", ""
}

// TestLabInstanceServedByAnyReplica: an instance launched on one replica
// is read, poked, watched, listed and stopped through the other, which
// forwards to the holder; the holder serves its own requests from memory;
// another learner still gets 404 through either.
func TestLabInstanceServedByAnyReplica(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a1, a2 := twoReplicas(t, be)
			ada1 := MustRegister(t, a1, "ada@example.com")
			ada2 := ada1.at(a2)
			bob2 := MustRegister(t, a2, "bob@example.com")
			id := launched(t, ada1, "limiter", `{"algorithm":"fixed_window","limit":2,"window_ms":60000}`)
			if _, err := a2.app.labs.Get("limiter", id, userID(t, a2, "ada@example.com")); err == nil {
				t.Fatal("the instance should run on the first replica only")
			}
			base := "/api/labs/limiter/instances/" + id

			resp := ada2.api(http.MethodGet, base, "")
			wantStatus(t, resp, http.StatusOK)
			if got := decodeJSON(t, resp)["id"]; got != id {
				t.Fatalf("read through the other replica: id %v, want %s", got, id)
			}
			// Decisions are the holder's: two admitted, the third refused,
			// whichever replica each request reached.
			codes := []int{}
			for _, b := range []*browser{ada2, ada1, ada2} {
				codes = append(codes, b.api(http.MethodPost, base+"/request?key=k", "").StatusCode)
			}
			if fmt.Sprint(codes) != "[200 200 429]" {
				t.Fatalf("requests across replicas: %v, want [200 200 429]", codes)
			}
			events := ada2.api(http.MethodGet, base+"/events", "")
			wantStatus(t, events, http.StatusOK)
			if name, data := firstEvent(t, events); name != "init" || !strings.Contains(data, "launched limiter") {
				t.Fatalf("event stream through the other replica: %s %s", name, data)
			}
			events.Body.Close()
			// A replica shutting down ends the streams it forwards as well
			// as its own, with a reconnection delay for the browser.
			events = ada2.api(http.MethodGet, base+"/events", "")
			own := ada1.api(http.MethodGet, base+"/events", "")
			firstEvent(t, events)
			firstEvent(t, own)
			ended := make(chan struct{})
			go func() { _, _ = io.Copy(io.Discard, events.Body); close(ended) }()
			a2.app.EndStreams() // the forwarding replica alone
			select {
			case <-ended:
			case <-time.After(30 * time.Second): // a backstop: it ends at once
				t.Fatal("the forwarded stream did not end when its replica began to shut down")
			}
			a1.app.EndStreams()
			if rest := readAll(t, own); !strings.Contains(rest, "retry: 1000") {
				t.Fatalf("the holder's own stream ended without a reconnection delay: %q", rest)
			}

			page := ada2.get("/labs/limiter")
			wantStatus(t, page, http.StatusOK)
			if !strings.Contains(readAll(t, page), id) {
				t.Fatal("the other replica's lab page does not list the instance")
			}
			for _, b := range []*browser{bob2, bob2.at(a1)} {
				wantStatus(t, b.api(http.MethodGet, base, ""), http.StatusNotFound)
				wantStatus(t, b.api(http.MethodDelete, base, ""), http.StatusNotFound)
			}

			wantStatus(t, ada2.api(http.MethodDelete, base, ""), http.StatusNoContent)
			if _, err := a1.app.labs.Get("limiter", id, userID(t, a2, "ada@example.com")); err == nil {
				t.Fatal("stopped through the other replica, the instance still runs on its holder")
			}
			for _, b := range []*browser{ada1, ada2} {
				wantStatus(t, b.api(http.MethodGet, base, ""), http.StatusNotFound)
			}
		})
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLabLimitsAreGlobal: a learner's launches on two replicas at once
// are counted together: exactly the limit succeeds, the rest are refused.
func TestLabLimitsAreGlobal(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a1, a2 := twoReplicas(t, be)
			ada := MustRegister(t, a1, "ada@example.com")
			const tries = 8
			var (
				mu    sync.Mutex
				codes = map[int]int{}
				wg    sync.WaitGroup
				start = make(chan struct{})
			)
			for i := range tries {
				base := []string{a1.URL, a2.URL}[i%2]
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					req, _ := http.NewRequest(http.MethodPost, base+"/api/labs/limiter/instances", strings.NewReader(`{}`))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Sec-Fetch-Site", "same-origin")
					resp, err := ada.c.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mu.Lock()
					codes[resp.StatusCode]++
					mu.Unlock()
				}()
			}
			close(start)
			wg.Wait()
			limit := labs.DefaultLimits.PerOwner
			if codes[http.StatusCreated] != limit || codes[http.StatusTooManyRequests] != tries-limit {
				t.Fatalf("%d launches at once on two replicas: %v, want %d created and %d refused", tries, codes, limit, tries-limit)
			}
			here := a1.app.labs.Held() + a2.app.labs.Held()
			if here != limit {
				t.Fatalf("%d instances run on the two replicas, want %d", here, limit)
			}
			// And the limit still holds, one launch at a time, on either.
			for _, a := range []*testApp{a1, a2} {
				wantStatus(t, ada.at(a).api(http.MethodPost, "/api/labs/limiter/instances", `{}`), http.StatusTooManyRequests)
			}
		})
	}
}

// TestOrphanedInstancesTakenOverOrSwept: a replica "dies" (it stops
// answering and its heartbeat stops). An instance a learner asks for once
// its holder has been silent long enough starts again on the replica the
// request reached, and its event log says so; one nobody asks for is swept
// with its row, its Redis keys and its rows, and is then a 404.
func TestOrphanedInstancesTakenOverOrSwept(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a1, a2 := twoReplicas(t, be)
			ada1 := MustRegister(t, a1, "ada@example.com")
			ada2 := ada1.at(a2)
			lim := launched(t, ada1, "limiter", `{}`)
			sh := launched(t, ada1, "shop", `{}`)
			wantStatus(t, ada1.api(http.MethodPost, "/api/labs/shop/instances/"+sh+"/orders", `{"product_id":1,"qty":2}`), http.StatusAccepted)
			ctx := context.Background()
			if n := keysOf(t, a2, sh); n == 0 {
				t.Fatal("the shop keeps no keys: the sweep below would prove nothing")
			}

			kill(a1)
			// Still within its heartbeat: on SQLite the other replica says
			// so; on PostgreSQL the holder is known to be gone and its
			// instance is taken over at once.
			resp := ada2.api(http.MethodGet, "/api/labs/limiter/instances/"+lim, "")
			if be.DatabaseURL != "" {
				wantStatus(t, resp, http.StatusOK)
			} else {
				wantStatus(t, resp, http.StatusServiceUnavailable)
				if msg := errorMessage(t, resp); !strings.Contains(msg, "not answering") || resp.Header.Get("Retry-After") == "" {
					t.Fatalf("a silent holder: %q, Retry-After %q", msg, resp.Header.Get("Retry-After"))
				}
			}

			a2.advance(labs.DefaultClusterOptions.StaleAfter + time.Second)
			if err := a2.app.labs.Heartbeat(ctx); err != nil {
				t.Fatal(err)
			}
			resp = ada2.api(http.MethodPost, "/api/labs/limiter/instances/"+lim+"/request?key=k", "")
			wantStatus(t, resp, http.StatusOK)
			if _, err := a2.app.labs.Get("limiter", lim, userID(t, a2, "ada@example.com")); err != nil {
				t.Fatalf("the asked-for instance was not taken over: %v", err)
			}
			events := ada2.api(http.MethodGet, "/api/labs/limiter/instances/"+lim+"/events", "")
			if _, data := firstEvent(t, events); !strings.Contains(data, "stopped answering, so this server started it again from its design") {
				t.Fatalf("the event log does not say the instance started again: %s", data)
			}
			events.Body.Close()

			a2.advance(labs.DefaultClusterOptions.OrphanAfter)
			if err := a2.app.labs.Heartbeat(ctx); err != nil {
				t.Fatal(err)
			}
			n, err := a2.app.labs.Sweep(ctx)
			if err != nil || n != 1 {
				t.Fatalf("sweep removed %d (%v), want the shop only", n, err)
			}
			if k := keysOf(t, a2, sh); k != 0 {
				t.Fatalf("%d Redis keys of the swept shop remain", k)
			}
			for _, table := range []string{"lab_instances", "shop_lab_inventory", "shop_lab_orders"} {
				if rows := rowsOf(t, a2, table, sh); rows != 0 {
					t.Fatalf("%d rows of the swept shop remain in %s", rows, table)
				}
			}
			wantStatus(t, ada2.api(http.MethodGet, "/api/labs/shop/instances/"+sh, ""), http.StatusNotFound)
			wantStatus(t, ada2.api(http.MethodGet, "/api/labs/limiter/instances/"+lim, ""), http.StatusOK)
			// A second sweep finds nothing; the taken-over instance counts
			// towards the limit with the learner's new ones.
			if n, err := a2.app.labs.Sweep(ctx); err != nil || n != 0 {
				t.Fatalf("second sweep: %d, %v", n, err)
			}
			launched(t, ada2, "limiter", `{}`)
			launched(t, ada2, "limiter", `{}`)
			wantStatus(t, ada2.api(http.MethodPost, "/api/labs/limiter/instances", `{}`), http.StatusTooManyRequests)
		})
	}
}

// kill makes a replica die as a killed process does: it answers nothing,
// beats no more, and what it ran writes nothing more to Redis or the
// database.
func kill(a *testApp) {
	a.Server.Close()
	if d := a.app.labs.Directory(); d != nil {
		d.Close() // the database ends a dead process's sessions
	}
	_ = a.redis.Client.Close()
	_ = a.store.Close()
}

func userID(t *testing.T, a *testApp, email string) int64 {
	t.Helper()
	u, err := a.store.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// TestRestartedReplicaTakesBackItsInstances: a replica started again at
// the address of one that was killed knows that process is gone at once:
// an instance asked for starts again on it with no wait, and the sweep
// removes the others without waiting for their heartbeat to age.
func TestRestartedReplicaTakesBackItsInstances(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a1 := MustStartLabs(t, be, nil, limiter.Lab, shop.Lab)
			ada := MustRegister(t, a1, "ada@example.com")
			asked := launched(t, ada, "limiter", `{}`)
			left := launched(t, ada, "limiter", `{}`)
			kill(a1)
			a3 := replicaOf(t, be, a1, func(c *config.Config) { c.ReplicaURL = a1.URL })
			wantStatus(t, ada.at(a3).api(http.MethodGet, "/api/labs/limiter/instances/"+asked, ""), http.StatusOK)
			if a3.app.labs.Held() != 1 {
				t.Fatalf("the restarted replica holds %d instances, want the one asked for", a3.app.labs.Held())
			}
			if n, err := a3.app.labs.Sweep(context.Background()); err != nil || n != 1 {
				t.Fatalf("the restarted replica's sweep removed %d (%v), want 1", n, err)
			}
			wantStatus(t, ada.at(a3).api(http.MethodGet, "/api/labs/limiter/instances/"+left, ""), http.StatusNotFound)
			wantStatus(t, ada.at(a3).api(http.MethodGet, "/api/labs/limiter/instances/"+asked, ""), http.StatusOK)
		})
	}
}

func errorMessage(t *testing.T, resp *http.Response) string {
	t.Helper()
	e, _ := decodeJSON(t, resp)["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// keysOf counts the Redis keys of instance id.
func keysOf(t *testing.T, a *testApp, id string) int {
	t.Helper()
	keys, err := a.redis.Client.Keys(context.Background(), "lab:"+id+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

// rowsOf counts the rows of instance id in a table.
func rowsOf(t *testing.T, a *testApp, table, id string) int {
	t.Helper()
	col := "instance"
	if table == "lab_instances" {
		col = "id"
	}
	q := labs.Env{Dialect: string(a.store.Dialect())}.Rebind(`SELECT COUNT(*) FROM ` + table + ` WHERE ` + col + ` = ?`)
	var n int
	if err := a.store.SQL().QueryRowContext(context.Background(), q, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

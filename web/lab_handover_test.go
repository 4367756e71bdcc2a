package web

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
)

// TestKilledHolderTakenOverAtOnce: on PostgreSQL a replica whose process
// ended has let go of its presence lock, so the first request for one of
// its instances that reaches another replica is served there at once,
// from the instance's state: the limiter's counters and the shop's orders
// carry on. SQLite runs one process and cannot tell a dead holder from a
// silent one: the request is refused with a sentence until StaleAfter.
func TestKilledHolderTakenOverAtOnce(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a1, a2 := twoReplicas(t, be)
			ada1 := MustRegister(t, a1, "ada@example.com")
			ada2 := ada1.at(a2)
			lim := launched(t, ada1, "limiter", `{"algorithm":"fixed_window","limit":2,"window_ms":600000,"timeout_ms":5000}`)
			sh := launched(t, ada1, "shop", `{}`)
			for range 2 {
				wantStatus(t, ada1.api(http.MethodPost, "/api/labs/limiter/instances/"+lim+"/request?key=k", ""), http.StatusOK)
			}
			resp := ada1.api(http.MethodPost, "/api/labs/shop/instances/"+sh+"/orders", `{"product_id":1,"qty":2}`)
			wantStatus(t, resp, http.StatusAccepted)
			order, _ := decodeJSON(t, resp)["order_id"].(string)
			if order == "" {
				t.Fatal("the shop named no order")
			}

			kill(a1)
			resp = ada2.api(http.MethodPost, "/api/labs/limiter/instances/"+lim+"/request?key=k", "")
			if be.DatabaseURL == "" {
				wantStatus(t, resp, http.StatusServiceUnavailable)
				if msg := errorMessage(t, resp); !strings.Contains(msg, "not answering") {
					t.Fatalf("a silent holder on SQLite: %q", msg)
				}
				return
			}
			// The third request of the window: refused, because the
			// counters in Redis carried over; a POST that never left this
			// replica was served here, not refused for the move.
			wantStatus(t, resp, http.StatusTooManyRequests)
			if _, err := a2.app.labs.Get("limiter", lim, userID(t, a2, "ada@example.com")); err != nil {
				t.Fatalf("the instance was not taken over: %v", err)
			}
			resp = ada2.api(http.MethodGet, "/api/labs/shop/instances/"+sh+"/orders/"+order, "")
			wantStatus(t, resp, http.StatusOK)
			got := decodeJSON(t, resp)
			if got["status"] != "cancelled" || !strings.Contains(strings.ToLower(got["reason"].(string)), "stopped") {
				t.Fatalf("the pending order after the takeover: %v, want cancelled because its server stopped", got)
			}
			resp = ada2.api(http.MethodGet, "/api/labs/shop/instances/"+sh+"/invariant", "")
			wantStatus(t, resp, http.StatusOK)
			if inv := decodeJSON(t, resp); inv["ok"] != true {
				t.Fatalf("the shop's stock does not add up after the takeover: %v", inv)
			}
			events := ada2.api(http.MethodGet, "/api/labs/shop/instances/"+sh+"/events", "")
			if _, data := firstEvent(t, events); !strings.Contains(data, "carries on from the database. 1 pending orders were cancelled") {
				t.Fatalf("the event log does not say what carried on: %s", data)
			}
			events.Body.Close()
		})
	}
}

// TestCutOffHolderLetsGoWithoutRemoving: a replica cut off from the others
// (it runs, its heartbeat stops reaching them) loses its instance to the
// replica a request reaches after StaleAfter. When it is heard from again
// its copy stops without removing the keys and rows the new holder uses.
func TestCutOffHolderLetsGoWithoutRemoving(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a1, a2 := twoReplicas(t, be)
			ada1 := MustRegister(t, a1, "ada@example.com")
			ada2 := ada1.at(a2)
			// A sliding log: the replicas' clocks move on by StaleAfter below, and a
			// fixed window's edge could fall in between.
			lim := launched(t, ada1, "limiter", `{"algorithm":"sliding_log","limit":3,"window_ms":600000,"timeout_ms":5000}`)
			sh := launched(t, ada1, "shop", `{}`)
			wantStatus(t, ada1.api(http.MethodPost, "/api/labs/limiter/instances/"+lim+"/request?key=k", ""), http.StatusOK)
			wantStatus(t, ada1.api(http.MethodPost, "/api/labs/shop/instances/"+sh+"/orders", `{"product_id":1,"qty":1}`), http.StatusAccepted)

			a1.Server.Close() // nobody reaches it; it still runs, with its database and Redis
			resp := ada2.api(http.MethodGet, "/api/labs/limiter/instances/"+lim, "")
			wantStatus(t, resp, http.StatusServiceUnavailable) // not known to be gone: wait for StaleAfter
			a2.advance(labs.DefaultClusterOptions.StaleAfter + time.Second)
			for _, p := range []string{"/api/labs/limiter/instances/" + lim + "/request?key=k", "/api/labs/shop/instances/" + sh + "/orders"} {
				body := ""
				if strings.Contains(p, "orders") {
					body = `{"product_id":1,"qty":1}`
				}
				resp = ada2.api(http.MethodPost, p, body)
				if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
					t.Fatalf("POST %s after StaleAfter: %d %s", p, resp.StatusCode, readAll(t, resp))
				}
				resp.Body.Close()
			}

			// The cut-off replica is heard from again: its heartbeat finds
			// both instances held by the other.
			if err := a1.app.labs.Heartbeat(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := a1.app.labs.Get("limiter", lim, userID(t, a1, "ada@example.com")); err == nil {
				t.Fatal("the replica that lost the instance still runs its copy")
			}
			if keysOf(t, a2, lim) == 0 || keysOf(t, a2, sh) == 0 {
				t.Fatal("the replica that lost the instances removed the keys the new holder uses")
			}
			for _, id := range []string{lim, sh} {
				if rowsOf(t, a2, "lab_instances", id) != 1 {
					t.Fatalf("instance %s lost its directory row", id)
				}
			}
			if rowsOf(t, a2, "shop_lab_orders", sh) == 0 {
				t.Fatal("the replica that lost the shop removed its orders")
			}
			// The new holder carries on: one request left in the window.
			codes := []int{}
			for range 2 {
				codes = append(codes, ada2.api(http.MethodPost, "/api/labs/limiter/instances/"+lim+"/request?key=k", "").StatusCode)
			}
			if codes[0] != http.StatusOK || codes[1] != http.StatusTooManyRequests {
				t.Fatalf("the limiter after the cut-off replica let go: %v, want [200 429]", codes)
			}
		})
	}
}

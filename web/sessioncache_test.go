package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/sdworkbook/workbook/internal/testenv"
)

// TestSessionChangesReachEveryReplica runs two replicas on one database
// and one Redis: a session the second replica has cached stops working
// there once the first logs it out, and a role the first changes holds on
// the second. The apps' clocks stand still, so a cached entry never
// expires on its own in this test: only the message can end it.
func TestSessionChangesReachEveryReplica(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			if b.RedisURL == "" {
				// The embedded default is one process; two replicas need a shared Redis.
				b.RedisURL = "redis://" + miniredis.RunT(t).Addr() + "/0"
			}
			one, two := MustStart(t, b, nil), MustStart(t, b, nil)
			waitSubscribed(t, one)
			waitSubscribed(t, two)
			admin := MustAdmin(t, one, "root@example.org")
			alice := MustRegister(t, one, "alice@example.org")
			aliceTwo := onReplica(t, alice, two)
			id := authTokenID(alice.cookie("workbook_session").Value)

			// The second replica caches the session with its role. A
			// message from the first about the sign-ups may still be on
			// its way, and a read it overtakes is not kept: read again.
			waitFor(t, "the second replica to keep the session", func() bool {
				wantStatus(t, aliceTwo.get("/admin/users"), http.StatusForbidden)
				_, _, ok := two.app.sessions.cache.get(id)
				return ok
			})
			wantStatus(t, aliceTwo.get("/admin/users"), http.StatusForbidden)

			// A role changed on the first replica holds on the second.
			u, err := one.store.UserByEmail(context.Background(), "alice@example.org")
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, admin.post("/admin/users/"+strconv.FormatInt(u.ID, 10)+"/role", url.Values{"role": {"admin"}}), http.StatusSeeOther)
			waitForgotten(t, two, id)
			wantStatus(t, aliceTwo.get("/admin/users"), http.StatusOK)
			wantCached(t, two, id)

			// Logged out on the first replica: refused on the second.
			wantStatus(t, alice.post("/logout", nil), http.StatusSeeOther)
			waitForgotten(t, two, id)
			resp := aliceTwo.get("/account")
			wantStatus(t, resp, http.StatusSeeOther)
			if loc := resp.Header.Get("Location"); loc != "/login?next=%2Faccount" {
				t.Fatalf("after logout elsewhere, /account sent to %q; want the login page", loc)
			}
		})
	}
}

// TestSessionChangesHereAreImmediate: on the replica that made the change
// the cached session is gone before the response is sent.
func TestSessionChangesHereAreImmediate(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			a := MustStart(t, b, nil)
			waitSubscribed(t, a)
			bob := MustRegister(t, a, "bob@example.org")
			stale := onReplica(t, bob, a) // keeps the cookie the logout clears
			id := authTokenID(bob.cookie("workbook_session").Value)
			wantStatus(t, bob.get("/account"), http.StatusOK)
			wantCached(t, a, id)

			// Changing the password ends every session, the cached one too.
			other := onReplica(t, bob, a)
			wantStatus(t, other.post("/account/password", url.Values{"current_password": {goodPassword},
				"new_password": {goodPassword + " again"}, "confirm_password": {goodPassword + " again"}}), http.StatusSeeOther)
			wantStatus(t, stale.get("/account"), http.StatusSeeOther)

			// Logging out ends the new session at once.
			fresh := onReplica(t, other, a)
			wantStatus(t, fresh.get("/account"), http.StatusOK)
			wantCached(t, a, authTokenID(fresh.cookie("workbook_session").Value))
			wantStatus(t, other.post("/logout", nil), http.StatusSeeOther)
			wantStatus(t, fresh.get("/account"), http.StatusSeeOther)
		})
	}
}

// onReplica is a browser with b's session cookie, talking to a.
func onReplica(t *testing.T, b *browser, a *testApp) *browser {
	t.Helper()
	ck := b.cookie("workbook_session")
	if ck == nil {
		t.Fatal("no session cookie to copy")
	}
	nb := newBrowser(t, a)
	u, _ := url.Parse(a.URL)
	nb.c.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: ck.Value, Path: "/"}})
	return nb
}

func wantCached(t *testing.T, a *testApp, id string) {
	t.Helper()
	if _, _, ok := a.app.sessions.cache.get(id); !ok {
		t.Fatal("the replica did not keep the session it read")
	}
}

// waitSubscribed waits until the app hears session changes from Redis;
// until then it caches nothing.
func waitSubscribed(t *testing.T, a *testApp) {
	t.Helper()
	waitFor(t, "the replica to subscribe to session changes", a.app.sessions.cache.live.Load)
}

// waitForgotten waits until the replica drops the session, which only a
// message from the other replica does here (the clock stands still).
func waitForgotten(t *testing.T, a *testApp, id string) {
	t.Helper()
	waitFor(t, "the replica to hear of the change", func() bool {
		_, _, ok := a.app.sessions.cache.get(id)
		return !ok
	})
}

// waitFor polls cond; the deadline only stops a broken test from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("gave up waiting for %s", what)
}

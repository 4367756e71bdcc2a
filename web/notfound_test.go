package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// TestOthersClassIsLikeAMissingOne: for everyone who does not run it, a
// class answers exactly as a class that does not exist, on every page,
// export and API route: the same status and the same body but for the
// request id, so its existence cannot be probed.
func TestOthersClassIsLikeAMissingOne(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStartLabs(t, be, nil, limiter.Lab)
			ctx := context.Background()
			MustRegister(t, a, "admin@example.org") // the first account is the admin
			teacher := MustRegister(t, a, "teacher@example.org")
			rival := MustRegister(t, a, "rival@example.org")
			ada := MustRegister(t, a, "ada@example.org")
			for _, email := range []string{"teacher@example.org", "rival@example.org"} {
				u, err := a.store.UserByEmail(ctx, email)
				if err != nil {
					t.Fatal(err)
				}
				if err := a.store.SetRole(ctx, u.ID, store.RoleInstructor); err != nil {
					t.Fatal(err)
				}
			}
			spring := classID(t, teacher.post("/classes", url.Values{"name": {"Spring"}}))
			n, _ := strconv.Atoi(spring)
			missing := strconv.Itoa(n + 1000)

			routes := []struct{ method, path string }{
				{"GET", "/classes/%s"}, {"GET", "/classes/%s/gradebook.csv"}, {"GET", "/classes/%s/results.json"},
				{"GET", "/classes/%s/submissions/abc"}, {"POST", "/classes/%s/delete"}, {"POST", "/classes/%s/assignments"},
				{"POST", "/classes/%s/assignments/1/delete"}, {"POST", "/classes/%s/assignments/1/regrade"},
				{"POST", "/classes/%s/submissions/abc/review"}, {"POST", "/classes/%s/submissions/abc/regrade"},
				{"GET", "/api/classes/%s/gradebook"},
			}
			for who, b := range map[string]*browser{"another instructor": rival, "a learner": ada} {
				wantStatus(t, b.get("/"), http.StatusOK) // shows the welcome flash, once
				for _, rt := range routes {
					answer := func(id string) (int, string) {
						path := fmt.Sprintf(rt.path, id)
						var resp *http.Response
						switch {
						case strings.HasPrefix(path, "/api/"):
							resp = b.api(rt.method, path, "")
						case rt.method == "GET":
							resp = b.get(path)
						default:
							resp = b.post(path, url.Values{"exercise": {limiterExercise}, "score": {"1"}})
						}
						body, _ := io.ReadAll(resp.Body)
						return resp.StatusCode, strings.ReplaceAll(string(body), resp.Header.Get("X-Request-ID"), "<request id>")
					}
					theirs, theirBody := answer(spring)
					none, noneBody := answer(missing)
					if theirs != http.StatusNotFound || none != http.StatusNotFound {
						t.Errorf("%s, %s %s: %d for another's class, %d for a missing one; want 404 for both", who, rt.method, rt.path, theirs, none)
					}
					if theirBody != noneBody {
						i := 0
						for i < len(theirBody) && i < len(noneBody) && theirBody[i] == noneBody[i] {
							i++
						}
						from := max(0, i-80)
						t.Errorf("%s, %s %s: the bodies differ at byte %d:\nanother's: …%.200s\nmissing:   …%.200s",
							who, rt.method, rt.path, i, theirBody[from:], noneBody[from:])
					}
				}
			}
			// The class is there for its instructor.
			wantStatus(t, teacher.get("/classes/"+spring), http.StatusOK)
		})
	}
}

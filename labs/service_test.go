package labs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type fakeFailure struct{ reason string }

func (f fakeFailure) Error() string          { return "service: " + f.reason }
func (f fakeFailure) ServiceFailure() string { return f.reason }

// oneServiceLauncher hands out one URL target, or fails to launch with err.
type oneServiceLauncher struct {
	base string
	err  error
}

func (l oneServiceLauncher) Launch(context.Context, map[string]any) (Target, error) {
	if l.err != nil {
		return nil, l.err
	}
	return &URLTarget{Base: l.base}, nil
}
func (oneServiceLauncher) Can(Capability) bool         { return false }
func (oneServiceLauncher) Close(context.Context) error { return nil }

// A learner's service that answers outside the contract, or does not
// start, fails the check with a sentence; only the environment's own
// failures stop the grading.
func TestServiceFailuresFailTheCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer srv.Close()
	check := Check{Name: "answers", Points: 10, Run: func(ctx context.Context, t *Trial) Outcome {
		tg, err := t.Start(ctx, nil)
		if err != nil {
			return Broken(err)
		}
		r, err := Call(ctx, tg, http.MethodGet, "/x", nil)
		if err != nil {
			return Broken(err)
		}
		if r.Status != http.StatusOK {
			return Broken(fmt.Errorf("GET /x answered %d", r.Status))
		}
		return Pass("fine")
	}}
	ex := Exercise{ID: "x", Checks: []Check{check}}
	for name, tc := range map[string]struct {
		launcher Launcher
		want     string
		envErr   bool
	}{
		"answers 500":       {oneServiceLauncher{base: srv.URL}, "GET /x answered 500", false},
		"never ready":       {oneServiceLauncher{err: fakeFailure{"Your service never became ready."}}, "Your service never became ready.", false},
		"engine failed":     {oneServiceLauncher{err: fmt.Errorf("%w: docker is gone", ErrEnvironment)}, "", true},
		"nothing listening": {oneServiceLauncher{base: "http://127.0.0.1:1"}, "did not answer as the contract says", false},
	} {
		t.Run(name, func(t *testing.T) {
			rs, err := RunOn(context.Background(), nil, ex, nil, tc.launcher, nil)
			if tc.envErr {
				if !errors.Is(err, ErrEnvironment) {
					t.Fatalf("want an environment error, got %v %+v", err, rs)
				}
				return
			}
			if err != nil || len(rs) != 1 {
				t.Fatalf("RunOn: %v %+v", err, rs)
			}
			if rs[0].Passed || rs[0].Points != 0 || rs[0].MaxPoints != 10 || !strings.Contains(rs[0].Message, tc.want) {
				t.Errorf("result %+v, want a failed check saying %q", rs[0], tc.want)
			}
		})
	}
}

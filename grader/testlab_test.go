package grader_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
)

// testLab is a lab made for the grader's own tests: its checks pass or fail
// on a design field, touch the environment's Redis and database for real,
// and can be told to be slow, to block (for a worker killed mid-job) or to
// panic.
type testLab struct{ needsDB bool }

const blockEnv = "GRADER_TEST_BLOCK_FILE"

func (l testLab) Info() labs.Info {
	return labs.Info{ID: "probe", Title: "Probe", Summary: "a lab for the grader's tests"}
}

func (testLab) Fields() []labs.Field {
	lo, hi := labs.Range(0, 60000)
	return []labs.Field{
		{Name: "quality", Type: labs.Enum, Default: "good", Options: []string{"good", "bad"}},
		{Name: "sleep_ms", Type: labs.Int, Default: 0, Min: lo, Max: hi},
		{Name: "panic", Type: labs.Bool, Default: false},
	}
}

func (testLab) Check(labs.Design) labs.FieldErrors { return nil }

type probeInstance struct{ env labs.Env }

func (l testLab) New(ctx context.Context, env labs.Env, d labs.Design) (labs.Instance, error) {
	if err := env.Redis.Set(ctx, env.Prefix+"alive", "1", time.Minute).Err(); err != nil {
		return nil, err
	}
	if l.needsDB {
		if env.DB == nil {
			return nil, errors.New("probe: no database")
		}
		if _, err := env.DB.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS probe_rows (id TEXT)"); err != nil {
			return nil, err
		}
		if _, err := env.DB.ExecContext(ctx, env.Rebind("INSERT INTO probe_rows (id) VALUES (?)"), env.Instance); err != nil {
			return nil, err
		}
	}
	return &probeInstance{env: env}, nil
}

func (p *probeInstance) Handler() http.Handler {
	rt := labhttp.NewRouter(nil)
	rt.HandleFunc("GET /alive", func(w http.ResponseWriter, r *http.Request) {
		v, err := p.env.Redis.Get(r.Context(), p.env.Prefix+"alive").Result()
		if err != nil || v != "1" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return rt
}
func (p *probeInstance) Hit(context.Context, string) (int, error) { return http.StatusOK, nil }
func (p *probeInstance) State(context.Context) (any, error)       { return nil, nil }
func (p *probeInstance) Close(ctx context.Context) error {
	return labs.DeleteKeys(ctx, p.env.Redis, p.env.Prefix)
}

func (l testLab) Exercises() []labs.Exercise {
	return []labs.Exercise{{
		ID: "probe-basic", Lab: "probe", Step: 1, Title: "Probe", Card: []string{"be good"}, NeedsDB: l.needsDB,
		Checks: []labs.Check{
			{Name: "environment answers", Requirement: "an instance is built and answers", Points: 5,
				Run: func(ctx context.Context, t *labs.Trial) labs.Outcome {
					tg, err := t.Start(ctx, nil)
					if err != nil {
						return labs.Broken(err)
					}
					r, err := labs.Call(ctx, tg, http.MethodGet, "/alive", nil)
					if err != nil {
						return labs.Broken(err)
					}
					if r.Status != http.StatusOK {
						return labs.Fail("alive answered %d", r.Status)
					}
					return labs.Pass("alive")
				}},
			{Name: "quality", Requirement: "the design is good", Points: 10,
				Run: func(ctx context.Context, t *labs.Trial) labs.Outcome {
					if t.Design.Bool("panic") {
						panic("asked to")
					}
					if f := os.Getenv(blockEnv); f != "" {
						_ = os.WriteFile(f, []byte("running"), 0o600)
						<-ctx.Done() // until the process is killed
						return labs.Broken(ctx.Err())
					}
					if ms := t.Design.Int("sleep_ms"); ms > 0 {
						select {
						case <-time.After(time.Duration(ms) * time.Millisecond):
						case <-ctx.Done():
							return labs.Broken(ctx.Err())
						}
					}
					if q := t.Design.String("quality"); q != "good" {
						return labs.Fail("quality is %s; good was required", q)
					}
					v := 3.0
					return labs.Outcome{Passed: true, Message: "quality is good",
						Chart: &labs.CheckChart{Title: "t", X: []float64{0, 1}, Series: []labs.ChartSeries{{Name: "y", Values: []float64{1, 2}}}, Limit: &v}}
				}},
			{Name: "report", Requirement: "a measurement", Points: 0,
				Run: func(ctx context.Context, t *labs.Trial) labs.Outcome {
					return labs.Pass("measured %d", 42)
				}},
		},
	}}
}

package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// A query slower than the threshold is logged at warn with its duration in
// milliseconds and its SQL with placeholders, never the values (here a
// password hash); quicker queries are not logged.
func TestSlowQueriesAreLoggedWithoutValues(t *testing.T) {
	const secret = "argon2id-hash-that-must-not-be-logged"
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			for _, c := range []struct {
				name      string
				threshold time.Duration
				logged    bool
			}{{"every query slow", time.Nanosecond, true}, {"none slow", time.Hour, false}} {
				var buf bytes.Buffer
				log := slog.New(slog.NewJSONHandler(&buf, nil))
				st, err := store.Open(ctx, store.Options{PostgresURL: b.DatabaseURL, SQLitePath: filepath.Join(b.DataDir, "slow.db"),
					Logger: log, SlowQuery: c.threshold})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := st.Migrate(ctx); err != nil {
					t.Fatal(err)
				}
				if _, err := st.CreateUser(ctx, strings.ReplaceAll(c.name, " ", "")+"@example.com", secret, store.RoleLearner); err != nil {
					t.Fatal(err)
				}
				st.Close()
				out := buf.String()
				if strings.Contains(out, secret) {
					t.Fatalf("%s: a value was logged:\n%s", c.name, out)
				}
				if got := strings.Contains(out, `"slow database query"`); got != c.logged {
					t.Fatalf("%s: logged %v, want %v:\n%s", c.name, got, c.logged, out)
				}
				if !c.logged {
					continue
				}
				line := ""
				for l := range strings.Lines(out) {
					if strings.Contains(l, "INSERT INTO") && strings.Contains(l, "users") {
						line = l
					}
				}
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("no log line for the user's INSERT: %v\n%s", err, out)
				}
				if _, ok := rec["duration_ms"].(float64); !ok || rec["level"] != "WARN" || rec["component"] != "database" {
					t.Fatalf("slow query line %v", rec)
				}
			}
		})
	}
}
